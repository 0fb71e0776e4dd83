/* ld.lld of the native clang: runs lld as ld.lld, with clang's
 * `--as-needed -lgcc_s --no-as-needed` written as gcc writes it,
 * `--push-state --as-needed -lgcc_s --pop-state`. With clang's form an
 * --as-needed in force before (Debian's gcc passes one by default, and the
 * bundle's clang.cfg then does too) is dropped for the libraries after it,
 * such as libc: the extension would NEED libraries gcc's does not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    /* Each rewrite adds one argument, at most one per three. */
    char **args = calloc((size_t)argc * 2 + 1, sizeof *args);
    int n = 0;
    if (args == NULL) {
        perror("ld.lld");
        return 1;
    }
    args[n++] = "ld.lld";
    for (int i = 1; i < argc; i++) {
        if (i + 2 < argc && strcmp(argv[i], "--as-needed") == 0
            && strcmp(argv[i + 1], "-lgcc_s") == 0
            && strcmp(argv[i + 2], "--no-as-needed") == 0) {
            args[n++] = "--push-state";
            args[n++] = "--as-needed";
            args[n++] = "-lgcc_s";
            args[n++] = "--pop-state";
            i += 2;
            continue;
        }
        args[n++] = argv[i];
    }
    args[n] = NULL;
    execv("/opt/clang/bin/lld", args);
    perror("/opt/clang/bin/lld");
    return 127;
}
