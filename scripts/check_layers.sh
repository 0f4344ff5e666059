#!/usr/bin/env bash
# check_layers.sh — fails (exit 1) when a file of a lower layer uses a higher one, as the layer
# table of docs/ARCHITECTURE.md orders them (each row a layer, bottom first; its folder column
# says which files belong to it, a folder and everything below it).
#   includes: every #include "..." of src/ and tools/ is resolved (by path from src/, or by name
#             in the including file's folder, src/core or include/; names found nowhere are
#             generated at build time and skipped) and must not name a file of a higher
#             layer; a violation is printed as file:line, the include and both layers.
#   calls:    with --objects DIR (the build's object folder, e.g. build/src/CMakeFiles/tacl_obj.dir),
#             every undefined symbol of an object must not be defined by an object of a higher
#             layer (nm); a violation names the file, the symbol and where it is defined.
# Usage: scripts/check_layers.sh [--root DIR] [--objects DIR]
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
objects=""
while [ $# -gt 0 ]; do
    case "$1" in
    --root) root=$2; shift 2 ;;
    --objects) objects=$2; shift 2 ;;
    -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "check_layers: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
doc="$root/docs/ARCHITECTURE.md"
[ -r "$doc" ] || { echo "check_layers: cannot read $doc" >&2; exit 2; }

# Layer table: "| name | folder | owns |" rows after the header row, in order.
names=() folders=()
while IFS='|' read -r _ name folder _; do
    name=$(echo "$name" | xargs) folder=$(echo "$folder" | xargs)
    names+=("$name") folders+=("${folder%/}")
done < <(awk '/^\| layer \| folder \|/ {t = 1; next} t && /^\|---/ {next} t && /^\|/ {print; next} t {exit}' "$doc")
[ ${#names[@]} -ge 2 ] || { echo "check_layers: no layer table in $doc" >&2; exit 2; }

# Layer index of a path relative to root (the longest matching folder) into $layer, -1 when
# none (no subshell: it runs for every include).
layer_of() {
    local p=$1 blen=0 i f
    layer=-1
    for i in "${!folders[@]}"; do
        f=${folders[$i]}
        if [[ "$p" == "$f"/* ]] && [ ${#f} -gt $blen ]; then
            layer=$i blen=${#f}
        fi
    done
}

fails=0
cd "$root" || exit 2
# Includes.
while IFS= read -r file; do
    layer_of "$file"
    fl=$layer
    [ "$fl" -ge 0 ] || continue
    dir=${file%/*}
    while IFS=: read -r line inc; do
        inc=${inc#*\"} inc=${inc%%\"*}
        target=""
        for cand in "$dir/$inc" "src/$inc" "src/core/$inc" "include/$inc"; do
            if [ -f "$cand" ]; then target=$cand; break; fi
        done
        # Not in the tree: generated at build time (tools/tacl/commands.h), no layer to check.
        [ -n "$target" ] || continue
        [[ "$target" != *..* ]] || target=$(realpath --relative-to=. "$target")
        layer_of "$target"
        tl=$layer
        if [ "$tl" -gt "$fl" ]; then
            echo "$file:$line: #include \"$inc\" goes up the layers: ${names[$fl]} ($file) uses ${names[$tl]} ($target)"
            fails=$((fails + 1))
        fi
    done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file")
done < <(find src tools -type f \( -name '*.c' -o -name '*.h' -o -name '*.def' \) | sort)

# Calls, from the objects' symbol tables.
if [ -n "$objects" ]; then
    [ -d "$objects" ] || { echo "check_layers: no object folder $objects" >&2; exit 2; }
    defs=$(mktemp) uses=$(mktemp)
    trap 'rm -f "$defs" "$uses"' EXIT
    while IFS= read -r obj; do
        rel=${obj#"$objects"/} src="src/${rel%.o}"
        [ -f "$root/$src" ] || src="tools/tacl/${rel%.o}"
        # an object of a source that no longer exists (a reused build folder) is not the code
        [ -f "$root/$src" ] || continue
        layer_of "$src"
        l=$layer
        [ "$l" -ge 0 ] || continue
        nm --defined-only -g "$obj" 2>/dev/null | awk -v s="$src" -v l="$l" 'NF == 3 {print $3, l, s}' >>"$defs"
        nm -u "$obj" 2>/dev/null | awk -v s="$src" -v l="$l" '{print $NF, l, s}' >>"$uses"
    done < <(find "$objects" -name '*.o' | sort)
    while read -r sym ul ufile dl dfile; do
        echo "$ufile: calls $sym, defined by $dfile: ${names[$ul]} uses ${names[$dl]}"
        fails=$((fails + 1))
    done < <(awk 'NR == FNR {d[$1] = $2 " " $3; next} ($1 in d) {split(d[$1], x, " "); if (x[1] > $2) print $1, $2, $3, x[1], x[2]}' "$defs" "$uses" | sort -u)
fi

if [ $fails -gt 0 ]; then
    order=$(printf ' < %s' "${names[@]}")
    echo "check_layers: $fails use(s) against the layer order (${order# < })"
    exit 1
fi
echo "check_layers: OK (${#names[@]} layers: ${names[*]})"
