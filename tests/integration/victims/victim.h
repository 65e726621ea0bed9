/* victim.h - helpers shared by the snapshot victims (each keeps its own copy:
 * everything here is static). */
#ifndef LK_VICTIM_H
#define LK_VICTIM_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Count this process's finished dumps with trigger 'trigger' in $LIBLEAK_DIR
 * (or "."); -1 when the directory cannot be opened. */
__attribute__((unused))
static int count_dumps(const char *trigger)
{
    const char *dir = getenv("LIBLEAK_DIR");
    char pre[64], suf[64];
    snprintf(pre, sizeof pre, "libleak.%ld.", (long)getpid());
    snprintf(suf, sizeof suf, ".%s.json", trigger);
    DIR *d = opendir(dir ? dir : ".");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name), sl = strlen(suf);
        if (!strncmp(e->d_name, pre, strlen(pre)) && l > sl && !strcmp(e->d_name + l - sl, suf))
            n++;
    }
    closedir(d);
    return n;
}

#endif /* LK_VICTIM_H */
