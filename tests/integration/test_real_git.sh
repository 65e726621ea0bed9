#!/bin/sh
# test_real_git: git init, add, commit, log and status on a temporary
# repository, every git process under the preload: same exit status and
# stdout as without it (fixed dates, so the commit ids agree), and a valid
# dump from each git process.
. tests/integration/lib.sh
lk_init real_git
command -v git >/dev/null || lk_fail "git missing (tools/deps.sh test)"

# A fixed identity and clock, and no user or system config.
export HOME="$LK_TMP" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=libleak GIT_AUTHOR_EMAIL=libleak@example.invalid
export GIT_COMMITTER_NAME=libleak GIT_COMMITTER_EMAIL=libleak@example.invalid
export GIT_AUTHOR_DATE="2020-01-01T00:00:00Z" GIT_COMMITTER_DATE="2020-01-01T00:00:00Z"

# run_git REPO: the git session; each git command is its own process.
cat >"$LK_TMP/session.sh" <<'SH'
set -e
repo=$1
git init -q -b main "$repo"
cd "$repo"
i=0
while [ $i -lt 50 ]; do echo "line $i" >>a.txt; i=$((i + 1)); done
mkdir -p src && printf 'int main(void) { return 0; }\n' >src/m.c
git add a.txt src
git commit -q -m "first"
echo more >>a.txt
git commit -q -am "second"
git log --format='%H %an %s'
git status --short
git rev-list --count HEAD
SH
# The shell runs without the preload; git gets it through the environment.
lk_run_both_git() {
    LK_DUMPS=$LK_TMP/dumps
    rm -rf "$LK_DUMPS" "$LK_TMP/r1" "$LK_TMP/r2"
    mkdir "$LK_DUMPS"
    sh "$LK_TMP/session.sh" "$LK_TMP/r1" >"$LK_TMP/bare.out" 2>"$LK_TMP/bare.err"
    bare=$?
    LD_PRELOAD="$LK_SO" LIBLEAK_DIR="$LK_DUMPS" \
        sh "$LK_TMP/session.sh" "$LK_TMP/r2" >"$LK_TMP/pre.out" 2>"$LK_TMP/pre.err"
    pre=$?
    [ "$bare" -eq 0 ] || lk_fail "git session failed without the preload: $(cat "$LK_TMP/bare.err")"
    [ "$pre" -eq "$bare" ] || lk_fail "git session exit $pre under the preload: $(tail -n 20 "$LK_TMP/pre.err")"
    cmp -s "$LK_TMP/bare.out" "$LK_TMP/pre.out" || {
        diff -u "$LK_TMP/bare.out" "$LK_TMP/pre.out" >&2
        lk_fail "git output differs under the preload"
    }
}
lk_run_both_git
[ "$(wc -l <"$LK_TMP/pre.out")" -eq 3 ] || lk_fail "unexpected git output: $(cat "$LK_TMP/pre.out")"
# sh itself, and at least the nine git commands, each leave a dump
n=$(lk_check_dumps "$LK_DUMPS" 10) || exit 1
g=$(lk_dump_exes "$LK_DUMPS" | grep -c '/git$')
[ "$g" -ge 9 ] || lk_fail "only $g dumps from git, expected at least 9"
echo "ok: $n dump(s), $g from git"
