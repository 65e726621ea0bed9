#!/bin/sh
# layers.sh [OBJDIR] - who calls whom among the preload's files, from their
# objects (default build/obj/preload): one "a b" line per file a that uses a
# symbol defined in file b, then the files top to bottom.  Exits 1 when
# files call each other directly or round a circle (preload/README.md, "Layers").
dir=${1:-build/obj/preload}
edges=$(for o in "$dir"/*.o; do
            f=$(basename "$o" .o)
            nm --defined-only "$o" | awk -v f="$f" '$2 ~ /^[TDBR]$/ { print "D", $3, f }'
            nm -u "$o" | awk -v f="$f" '{ print "U", $2, f }'
        done | awk '$1 == "D" { def[$2] = $3; next }
                    { use[NR] = $2; who[NR] = $3 }
                    END { for (i in use) if ((use[i] in def) && def[use[i]] != who[i])
                              print who[i], def[use[i]] }' | sort -u)
echo "$edges"
err=$(mktemp)
echo "top to bottom:"
echo "$edges" | tsort 2>"$err" | tr '\n' ' '
echo
if [ -s "$err" ]; then
    cat "$err" >&2
    rm -f "$err"
    exit 1
fi
rm -f "$err"
