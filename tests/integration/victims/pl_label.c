/* pl_label: libleak_snapshot() with the label given as argv[1].
 * Prints "snap R" (R: the return value; -38 without the preload) and exits 0.
 * Expected: one api dump whose dump.label is argv[1] cut to at most 63
 * bytes, never in the middle of a UTF-8 character (the label stays a valid
 * JSON string), then the exit dump. */
#include <stdio.h>

#include <libleak.h>

int main(int argc, char **argv)
{
    printf("snap %d\n", LIBLEAK_SNAPSHOT(argc > 1 ? argv[1] : NULL));
    return 0;
}
