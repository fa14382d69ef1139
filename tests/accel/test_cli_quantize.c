/* The CLI side: biasdrift quantize writes a .bdq file that bench/run accept
 * as --accel FILE.bdq; bad specs and outputs exit with status 2. */
#include <stdlib.h>
#include <sys/wait.h>

#include "../test.h"

static int run(const char *bin, const char *args, char *out, size_t cap)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin, args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void)
{
    const char *bin = getenv("BIASDRIFT");
    if (!bin) bin = "./biasdrift";
    FILE *f = fopen(bin, "rb");
    if (!f) {
        fprintf(stderr, "%s not built: CLI checks skipped\n", bin);
        CHECK(1);
        return test_done();
    }
    fclose(f);
    static char out[65536];
    const char *model = "../shared/models/stories260K/stories260K.gguf";
    char args[1024];
    snprintf(args, sizeof args, "quantize --model %s --accel nf4+wanda2:4 --calib selfgen --calib-samples 2 "
             "--calib-seqlen 16 -o build/accel_cli.bdq", model);
    CHECK_EQ_INT(run(bin, args, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "wanda2:4+nf4") != NULL, "%s", out);
    snprintf(args, sizeof args, "bench --model %s --accel build/accel_cli.bdq --prefill 8 --decode 4 --bw 10 --threads 1",
             model);
    CHECK_EQ_INT(run(bin, args, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "wanda2:4+nf4") != NULL, "%s", out);
    snprintf(args, sizeof args, "quantize --model %s --accel int9 -o build/accel_cli2.bdq", model);
    CHECK_EQ_INT(run(bin, args, out, sizeof out), 2);
    CHECK_MSG(strstr(out, "valid specs") != NULL, "%s", out);
    snprintf(args, sizeof args, "quantize --model %s --accel wanda50 -o build/accel_cli2.bdq", model);
    CHECK_EQ_INT(run(bin, args, out, sizeof out), 2);
    CHECK_MSG(strstr(out, "--calib") != NULL, "%s", out);
    snprintf(args, sizeof args, "quantize --model %s --accel nf4 -o build/accel_cli2.bin", model);
    CHECK_EQ_INT(run(bin, args, out, sizeof out), 2);
    remove("build/accel_cli.bdq");
    return test_done();
}
