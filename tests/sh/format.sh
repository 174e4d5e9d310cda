# Every C source and header follows the checked-in .clang-format.
. "$(dirname "$0")/lib.sh"

cd "$SRC" || exit 1
files=$(find builder common installer tests bench -name '*.[ch]' | sort)
for f in $files; do
	if clang-format --style=file --dry-run --Werror "$f" 2>/dev/null; then ok; else
		fail "$f is not formatted (run: clang-format -i $f)"
	fi
done
finish
