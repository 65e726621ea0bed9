#!/bin/sh
# soak_git: git init of a temporary repository, add of 200 files, commit,
# log and gc (which runs pack-refs, reflog, repack, pack-objects, prune...).
# A fixed identity and clock make the commit ids, hence stdout, agree.  The
# session's shell and every git process it starts leave a dump each.
. tests/soak/lib.sh
soak_init git
soak_need git
export HOME="$SK_TMP" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=libleak GIT_AUTHOR_EMAIL=libleak@example.invalid
export GIT_COMMITTER_NAME=libleak GIT_COMMITTER_EMAIL=libleak@example.invalid
export GIT_AUTHOR_DATE="2020-01-01T00:00:00Z" GIT_COMMITTER_DATE="2020-01-01T00:00:00Z"
soak_setup() {
    i=0
    mkdir -p src
    while [ $i -lt 200 ]; do
        printf 'file %d\n%s\n' $i "$(seq $i $((i + 20)) | tr '\n' ' ')" >src/f$i.txt
        i=$((i + 1))
    done
}
soak_run 300 sh -c '
set -e
git init -q -b main repo
mv src repo/
cd repo
git add src
git commit -q -m "200 files"
echo more >>src/f7.txt
git commit -q -am "second"
git log --format="%H %s" --stat | tail -n 5
git gc -q
git count-objects -v | grep -E "^(count|in-pack|packs):"
git rev-list --count HEAD'
soak_expect_status 0
soak_dumps
soak_end
