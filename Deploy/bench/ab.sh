# ab's report, read one way by every script that reads it (the Swift tests' reading is
# ApacheBenchReport, in Sources/StackTestSupport).
# ab_field FILE NAME: the first word after "NAME:" in ab's report FILE (empty when absent,
# as "Non-2xx responses" is when there were none).
ab_field() { awk -v f="$2" -F': *' '$1 == f { split($2, a, " "); print a[1] }' "$1"; }
