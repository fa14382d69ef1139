#include <stdio.h>

#include "cli.h"

/* Placeholder until its issue lands; replaced by the real command. */
int cmd_chat(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "biasdrift chat: not available in this build yet\n");
    return 2;
}
