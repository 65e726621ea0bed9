#!/bin/sh
# soak_perl: perl building hashes of arrays and matching regexes over 50k
# strings; one process, one exit dump that loads.
# soak: quick
. tests/soak/lib.sh
soak_init perl
soak_need perl
soak_run 120 perl -e '
my %h; my $n = 0;
for my $i (0 .. 49999) {
    my $k = sprintf("k%05d", ($i * 7919) % 10007);
    push @{$h{substr($k, 0, 3)}}, $i;
    $n++ if $k =~ /^k(\d)\1/;
    (my $s = "x$i-y$i") =~ s/(\d+)-y(\d+)/$2:$1/;
}
my @top = (sort { @{$h{$b}} <=> @{$h{$a}} or $a cmp $b } keys %h)[0 .. 4];
print scalar(keys %h), " $n @top\n";
my %words = map { $_ => length } split /\W+/, join(" ", map { "w$_ w" . ($_ % 97) } 1 .. 20000);
print scalar(keys %words), "\n";'
soak_expect_status 0
soak_dumps
soak_end
