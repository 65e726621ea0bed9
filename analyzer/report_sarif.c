/* report_sarif.c - leak-analyze's SARIF 2.1.0 report (--format=sarif), the
 * format GitHub code scanning and GitLab read: one result per leak site,
 * ruleId by kind, located at the first frame under the source root, the
 * whole stack in "stacks", suppressed sites marked as suppressions. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "report_ci.h"

#define SRCROOT "SRCROOT"
/* "results" is streamed in place of this string (report_json.c's way). */
#define RESULTS_PLACEHOLDER "\001results\001"
#define RESULTS_PLACEHOLDER_JSON "\"\\u0001results\\u0001\""

static const char *const rule_name[LK_KIND_COUNT] = {
    "UnfreedAtExit", "DefinitelyLost", "IndirectlyLost", "PossiblyLost", "StillReachable",
};

static const char *const rule_text[LK_KIND_COUNT] = {
    "Memory still allocated at exit (no reachability scan)",
    "Memory definitely lost: no pointer to it remains",
    "Memory indirectly lost: reachable only from lost memory",
    "Memory possibly lost: only interior pointers to it remain",
    "Memory still reachable at exit",
};

/* Percent-encode 's' as a URI path: everything but RFC 3986's unreserved
 * characters, sub-delims, ':', '@' and '/' (names are untrusted and may hold
 * spaces, '%', '#' or the loader's "\xNN" escapes).  Malloc'd or NULL. */
static char *uri_path(const char *prefix, const char *s)
{
    static const char keep[] = "-._~!$&'()*+,;=:@/";
    size_t plen = strlen(prefix), n = strlen(s);
    char *u = malloc(plen + 3 * n + 1), *p;

    if (u == NULL)
        return NULL;
    memcpy(u, prefix, plen);
    p = u + plen;
    for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')
            || (*c < 0x80 && strchr(keep, *c) != NULL)) {
            *p++ = (char)*c;
        } else {
            p += sprintf(p, "%%%02X", *c);
        }
    }
    *p = '\0';
    return u;
}

/* The path of 'file' relative to 'root' (absolute, no trailing '/'), or
 * NULL when it is not under it.  A relative DWARF name is relative to a
 * compile directory the report does not know: it counts as under the root
 * when it names a regular file there (the usual build from the top of the
 * checkout), and never when it climbs out with "..". */
static const char *under_root(const char *file, const char *root)
{
    size_t n = strlen(root);

    if (file == NULL || file[0] == '\0')
        return NULL;
    if (file[0] != '/') {
        while (file[0] == '.' && file[1] == '/')
            file += 2;
        if (strcmp(file, "..") == 0 || strncmp(file, "../", 3) == 0 || strstr(file, "/../") != NULL)
            return NULL;
        char path[4096];
        struct stat st;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", root, file) >= sizeof(path)
            || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            return NULL;
        return file;
    }
    if (n == 1)     /* root is "/" */
        return file[1] != '\0' ? file + 1 : NULL;
    if (strncmp(file, root, n) != 0 || file[n] != '/' || file[n + 1] == '\0')
        return NULL;
    return file + n + 1;
}

/* A physicalLocation for frame 'f': relative to SRCROOT when under the
 * root, else an absolute file: URI; NULL when the frame has no file or a
 * relative one outside the root (its base is unknown). */
static json_t *phys_location(const lk_frame_t *f, const char *root)
{
    const char *rel = under_root(f->file, root);
    char *uri;

    if (rel != NULL)
        uri = uri_path("", rel);
    else if (f->file != NULL && f->file[0] == '/')
        uri = uri_path("file://", f->file);
    else
        return NULL;
    if (uri == NULL)
        return NULL;
    json_t *art = json_pack("{s:s}", "uri", uri);
    free(uri);
    if (art != NULL && rel != NULL)
        json_object_set_new(art, "uriBaseId", json_string(SRCROOT));
    json_t *o = json_pack("{s:o}", "artifactLocation", art);
    if (o != NULL && f->line > 0)
        json_object_set_new(o, "region", json_pack("{s:i}", "startLine", f->line));
    return o;
}

/* "fn (file:line)" or what is known of the frame, into 'buf'. */
static const char *frame_text(char *buf, size_t len, const lk_frame_t *f)
{
    const char *fn = f->function != NULL ? f->function : "??";

    if (f->file != NULL && f->line > 0)
        snprintf(buf, len, "%s (%s:%d)", fn, f->file, f->line);
    else if (f->file != NULL)
        snprintf(buf, len, "%s (%s)", fn, f->file);
    else if (f->module != NULL)
        snprintf(buf, len, "%s (%s+0x%" PRIx64 ")", fn, f->module, f->offset);
    else
        snprintf(buf, len, "%s (0x%" PRIx64 ")", fn, f->address);
    return buf;
}

/* A stackFrame: its location (physical when the file is known, the
 * function as a logical location) and module. */
static json_t *stack_frame(const lk_frame_t *f, const char *root)
{
    char text[1024];
    json_t *loc = json_pack("{s:{s:s}}", "message", "text",
                            frame_text(text, sizeof(text), f));
    json_t *phys = phys_location(f, root);

    if (loc != NULL && phys != NULL)
        json_object_set_new(loc, "physicalLocation", phys);
    else
        json_decref(phys);
    if (loc != NULL && f->function != NULL)
        json_object_set_new(loc, "logicalLocations",
                            json_pack("[{s:s, s:s}]", "name", f->function, "kind", "function"));
    json_t *o = json_pack("{s:o}", "location", loc);
    if (o != NULL && f->module != NULL)
        json_object_set_new(o, "module", json_string(f->module));
    return o;
}

/* The result's level: "error" when the gate counts its kind. */
static const char *level_of(lk_kind_t k, const lk_options_t *opt)
{
    if (opt->fail_kinds & (1u << k))
        return "error";
    return k == LK_KIND_REACHABLE ? "note" : "warning";
}

static json_t *result_json(const lk_leak_t *l, const lk_options_t *opt, const char *root,
                           const char *name)
{
    char where[1024] = "an unknown place", msg[2048];
    size_t at = 0;

    /* the first frame under the source root is the user's code; else the
     * first frame with a file */
    for (size_t i = 0; i < l->nframes; i++)
        if (under_root(l->frames[i].file, root) != NULL) {
            at = i;
            goto found;
        }
    for (size_t i = 0; i < l->nframes; i++)
        if (l->frames[i].file != NULL) {
            at = i;
            goto found;
        }
found:
    if (l->nframes > 0)
        frame_text(where, sizeof(where), &l->frames[at]);
    snprintf(msg, sizeof(msg),
             "%s %" PRIu64 " byte(s) in %" PRIu64 " block(s) (%s) allocated in %s, "
             "in %s (pid %d)",
             lk_kind_lead(l->kind), l->bytes, l->blocks, lk_family_name(l->family),
             where, name != NULL ? name : "?", l->pid);

    json_t *frames = json_array();
    for (size_t i = 0; frames != NULL && i < l->nframes; i++)
        if (json_array_append_new(frames, stack_frame(&l->frames[i], root)) < 0) {
            json_decref(frames);
            frames = NULL;
        }
    char rule[64];
    snprintf(rule, sizeof(rule), "libleak/%s", lk_kind_name(l->kind));
    json_t *o = json_pack("{s:s, s:i, s:s, s:{s:s}, s:[{s:{s:s}, s:o}], "
                          "s:{s:i, s:i, s:s, s:I, s:I, s:I}}",
                          "ruleId", rule, "ruleIndex", (int)l->kind,
                          "level", level_of(l->kind, opt), "message", "text", msg,
                          "stacks", "message", "text", "allocation stack", "frames", frames,
                          "properties", "pid", l->pid, "image", (int)l->image,
                          "family", lk_family_name(l->family),
                          "bytes", (json_int_t)l->bytes, "blocks", (json_int_t)l->blocks,
                          "stack", (json_int_t)l->stack_id);
    if (o == NULL)
        return NULL;
    if (l->key != NULL)     /* the baseline key: stable across rebuilds */
        json_object_set_new(o, "partialFingerprints",
                            json_pack("{s:s}", "libleakSiteKey/v1", l->key));
    json_t *phys = l->nframes > 0 ? phys_location(&l->frames[at], root) : NULL;
    json_t *loc = json_object();
    if (phys != NULL)
        json_object_set_new(loc, "physicalLocation", phys);
    if (l->nframes > 0 && l->frames[at].function != NULL)
        json_object_set_new(loc, "logicalLocations",
                            json_pack("[{s:s, s:s}]", "name", l->frames[at].function,
                                      "kind", "function"));
    json_object_set_new(o, "locations", json_pack("[o]", loc));
    if (l->suppressed_by != NULL) {
        char why[1024], rtext[768];
        char *src = lk_escape_dup(l->suppressed_by->source);
        snprintf(why, sizeof(why), "%s (%s:%d)",
                 lk_supp_text(l->suppressed_by, rtext, sizeof(rtext)),
                 src != NULL ? src : "?", l->suppressed_by->line);
        free(src);
        json_object_set_new(o, "suppressions",
                            json_pack("[{s:s, s:s}]", "kind", "external", "justification", why));
    }
    if (l->is_new || l->has_grown)
        json_object_set_new(o, "baselineState", json_string(l->is_new ? "new" : "updated"));
    return o;
}

static json_t *rules_json(const lk_options_t *opt)
{
    json_t *a = json_array();
    for (int k = 0; a != NULL && k < LK_KIND_COUNT; k++) {
        char id[64];
        snprintf(id, sizeof(id), "libleak/%s", lk_kind_name((lk_kind_t)k));
        json_t *o = json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "id", id,
                              "name", rule_name[k],
                              "shortDescription", "text", rule_text[k],
                              "defaultConfiguration", "level", level_of((lk_kind_t)k, opt));
        if (o == NULL || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

int lk_report_sarif(FILE *out, const lk_report_t *r, const lk_options_t *opt,
                    const char *source_root)
{
    char *root_uri = uri_path("file://", source_root);
    if (root_uri == NULL)
        return -ENOMEM;
    size_t n = strlen(root_uri);
    if (n == 0 || root_uri[n - 1] != '/') {     /* a base URI ends in '/' */
        char *t = realloc(root_uri, n + 2);
        if (t == NULL) {
            free(root_uri);
            return -ENOMEM;
        }
        root_uri = t;
        strcpy(root_uri + n, "/");
    }
    json_t *root = json_pack("{s:s, s:s, s:[{s:{s:{s:s, s:s, s:o}}, s:{s:{s:s}}, s:s}]}",
                             "$schema", "https://json.schemastore.org/sarif-2.1.0.json",
                             "version", "2.1.0", "runs",
                             "tool", "driver", "name", "leak-analyze",
                             "version", LIBLEAK_TOOL_VERSION,
                             "rules", rules_json(opt),
                             "originalUriBaseIds", SRCROOT, "uri", root_uri,
                             "results", RESULTS_PLACEHOLDER);
    free(root_uri);
    char *text = root != NULL ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    const char *hole = text != NULL ? strstr(text, RESULTS_PLACEHOLDER_JSON) : NULL;
    if (hole == NULL) {
        free(text);
        return -ENOMEM;
    }
    /* One result at a time, one per line, because a tree of every result
     * needs several times the JSON report's memory. */
    int rc = 0;
    size_t written = 0;
    unsigned kinds = opt->show_kinds | opt->fail_kinds;
    fwrite(text, 1, (size_t)(hole - text), out);
    putc('[', out);
    for (size_t i = 0; rc == 0 && i < r->nleaks; i++) {
        const lk_leak_t *l = &r->leaks[i];
        if (!(kinds & (1u << l->kind)))
            continue;
        const char *name = NULL;
        for (size_t p = 0; p < r->nprocs; p++)
            if (r->procs[p].pid == l->pid && r->procs[p].image == l->image)
                name = r->procs[p].name != NULL ? r->procs[p].name : lk_basename(r->procs[p].exe);
        json_t *res = result_json(l, opt, source_root, name);
        fputs(written++ == 0 ? "\n        " : ",\n        ", out);
        if (res == NULL || json_dumpf(res, out, JSON_COMPACT | JSON_PRESERVE_ORDER) < 0)
            rc = -ENOMEM;
        json_decref(res);
    }
    fputs(written > 0 ? "\n      ]" : "]", out);
    fputs(hole + strlen(RESULTS_PLACEHOLDER_JSON), out);
    free(text);
    fputc('\n', out);
    if (rc < 0)
        return rc;
    if (fflush(out) != 0 || ferror(out))
        return -EIO;
    return 0;
}
