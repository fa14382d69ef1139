/* biasdrift: measures how inference acceleration changes the bias of LLMs. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "../util/version.h"

typedef struct bd_cmd { const char *name; int (*fn)(int, char **); const char *help; } bd_cmd;

static const bd_cmd CMDS[] = {
    {"generate", cmd_generate, "generate text from a prompt"},
    {"score",    cmd_score,    "log-probabilities of texts (JSONL in, JSONL out)"},
    {"inspect",  cmd_inspect,  "show a model's architecture, tensors and tokenizer"},
    {"bench",    cmd_bench,    "measure prefill/decode speed and memory"},
    {"tokenize", cmd_tokenize, "encode text to ids (or --decode ids)"},
    {"chat",     cmd_chat,     "render a chat template"},
    {"run",      cmd_run,      "run bias benchmarks into a results database"},
    {"compare",  cmd_compare,  "accelerated vs baseline runs with confidence intervals"},
    {"report",   cmd_report,   "write an HTML/Markdown/CSV/JSON report"},
    {"quantize", cmd_quantize, "apply an acceleration strategy and export the model"},
    {"demo",     cmd_demo,     "run the demo study end to end"},
};

static void usage(FILE *f)
{
    fprintf(f, "biasdrift %s — how inference acceleration changes LLM bias\n\n"
               "usage: biasdrift <command> [options]   (biasdrift <command> --help)\n\ncommands:\n",
            BD_VERSION);
    for (size_t i = 0; i < sizeof CMDS / sizeof CMDS[0]; i++)
        fprintf(f, "  %-10s %s\n", CMDS[i].name, CMDS[i].help);
}

int main(int argc, char **argv)
{
    if (argc < 2) { usage(stderr); return 2; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) { printf("biasdrift %s\n", BD_VERSION); return 0; }
    for (size_t i = 0; i < sizeof CMDS / sizeof CMDS[0]; i++)
        if (!strcmp(argv[1], CMDS[i].name)) return CMDS[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "biasdrift: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
