#!/bin/bash
# make torture: the bad-input corpus, then the random-kill sweep.
#   scripts/torture/run.sh [-gap bin/gap] [-trials N] [-table T] [-profile P]
set -u
gap=bin/gap trials=20 table=imagenet profile=smoke
while [ $# -gt 0 ]; do
  case $1 in
    -gap) gap=$2; shift 2 ;;
    -trials) trials=$2; shift 2 ;;
    -table) table=$2; shift 2 ;;
    -profile) profile=$2; shift 2 ;;
    *) echo "usage: $0 [-gap bin/gap] [-trials N] [-table T] [-profile P]" >&2; exit 2 ;;
  esac
done
here=$(dirname "$0")
go build -o bin/arrowrows ./scripts/torture/arrowrows || exit 1
status=0
python3 "$here/corpus.py" --gap "$gap" || status=1
if [ "$trials" -gt 0 ]; then
  python3 "$here/killsweep.py" --gap "$gap" --arrowrows bin/arrowrows --table "$table" --profile "$profile" --trials "$trials" || status=1
fi
exit $status
