/* SHA-256 against the NIST FIPS 180-4 example vectors (csrc.nist.gov
 * "SHA256.pdf" / SHAVS short messages): "abc", "", the 448-bit message, and
 * one million 'a'; plus streaming in odd-sized chunks and the file path. */
#include "../test.h"
#include "util/sha256.h"

#include <unistd.h>

int main(void)
{
    char hex[65];
    bd_sha256_hex("abc", 3, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    bd_sha256_hex("", 0, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    bd_sha256_hex(m448, strlen(m448), hex);
    CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* 896-bit message: padding spills into a second block */
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                       "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    bd_sha256_hex(m896, strlen(m896), hex);
    CHECK_STR(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");

    /* one million 'a' fed in uneven chunks to exercise the partial-block path */
    char *a = malloc(1000000);
    CHECK(a != NULL);
    if (a) {
        memset(a, 'a', 1000000);
        bd_sha256_ctx c;
        bd_sha256_init(&c);
        size_t off = 0, step = 1;
        while (off < 1000000) {
            size_t n = step < 1000000 - off ? step : 1000000 - off;
            bd_sha256_update(&c, a + off, n);
            off += n;
            step = step * 7 % 997 + 1;
        }
        uint8_t d[32];
        bd_sha256_final(&c, d);
        bd_sha256_to_hex(d, hex);
        CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

        char path[] = "/tmp/bd_sha256_XXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0);
        if (fd >= 0) {
            CHECK(write(fd, a, 1000000) == 1000000);
            close(fd);
            bd_err err = {0};
            CHECK_EQ_INT(bd_sha256_file(path, hex, &err), 0);
            CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
            unlink(path);
            CHECK(bd_sha256_file(path, hex, &err) == BD_EINPUT);
            CHECK(strstr(err.msg, path) != NULL);
        }
        free(a);
    }
    return test_done();
}
