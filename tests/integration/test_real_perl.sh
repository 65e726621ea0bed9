#!/bin/sh
# test_real_perl: perl -e with hashes, regexes and string building runs under
# the preload with the same exit status (2) and stdout as without it, and
# leaves a valid exit dump.
. tests/integration/lib.sh
lk_init real_perl
command -v perl >/dev/null || lk_fail "perl missing (tools/deps.sh test)"

lk_run_both perl -e '
my %h; my @l;
for my $i (1 .. 20000) { my $k = sprintf("k%05d", ($i * 7919) % 10007); $h{$k}++; push @l, $k x 2; }
my $n = grep { /^k0+1/ } keys %h;
my $s = join(",", map { $_ . "=" . $h{$_} } (sort keys %h)[0 .. 4]);
print scalar(keys %h), " $n ", length(join("", @l)), "\n$s\n";
exit 2;'
[ "$LK_STATUS" -eq 2 ] || lk_fail "perl exited $LK_STATUS, expected 2"
n=$(lk_check_dumps "$LK_DUMPS" 1) || exit 1
lk_dump_exes "$LK_DUMPS" | grep perl >/dev/null || lk_fail "no dump from perl"
echo "ok: $n dump(s)"
