/* Subcommands and the small option parser they share. Each cmd_* returns the
 * process exit status (0 ok, 1 the work failed, 2 bad input or usage). */
#ifndef BD_CLI_H
#define BD_CLI_H

#include "../util/err.h"

typedef struct bd_opt {
    const char *name;   /* "--model", or "-n" */
    const char *alias;  /* another spelling, or NULL */
    int has_val;        /* 1: takes a value, 0: flag */
    const char *help;   /* one line, shown by --help */
    const char *val;    /* parsed value (or NULL); for flags "1" when given */
} bd_opt;

/* Parses argv[1..] (argv[0] is the subcommand name). Prints usage + option
 * help to stdout and returns -1 on --help; prints an error naming the bad
 * option and returns 2 on unknown options or missing values; returns 0 ok. */
int bd_opts_parse(int argc, char **argv, bd_opt *opts, int n, const char *usage);
const char *bd_opt_get(const bd_opt *opts, int n, const char *name);
/* Parses an integer/float option value; prints an error naming the option
 * and returns 2 on a malformed value; returns 0 and leaves *out if absent. */
int bd_opt_int(const bd_opt *opts, int n, const char *name, long long lo, long long hi, long long *out);
int bd_opt_float(const bd_opt *opts, int n, const char *name, double lo, double hi, double *out);
/* Prints "biasdrift: <msg>" to stderr and returns the exit status for err. */
int bd_cli_report(const bd_err *err);

int cmd_generate(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_demo(int argc, char **argv);

#endif
