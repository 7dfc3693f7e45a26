# Per-kernel time from CubeCL's profiling log at level "medium" (lines "| 2.08ms | Name_hash"
# or "| 677µs | Name | Family_hash"): for each kernel that runs about once or more a step
# (at least n - 2 launches in n steps; fewer are set-up), its launches and milliseconds per
# step, the most costly first, then their total. Variables: n (steps in the log), m (a name
# for the heading). Used by kernel-count.sh (TIMES=1) and gpu-check.sh (kernels).
function ms(s,    v) {
    v = s + 0
    if (s ~ /ns$/) return v / 1e6
    if (s ~ /(µs|us)$/) return v / 1e3
    if (s ~ /ms$/) return v
    if (s ~ /s$/) return v * 1e3
    return v
}
BEGIN { FS = "|" }
NF >= 3 {
    d = $2; gsub(/ /, "", d)
    # Kernel lines only (autotune's tables share the format, their second column a count).
    if (d !~ /^[0-9.]+(ns|µs|us|ms|s)$/ || $3 ~ /^ *[0-9]/) next
    name = $3
    for (i = 4; i <= NF; i++) name = name "|" $i
    gsub(/^ +| +$/, "", name); gsub(/ *\| */, " ", name)
    # Burn's matrix products name their whole configuration: the first word and the hash.
    if (length(name) > 60) name = substr(name, 1, index(name, " ") - 1) "..." substr(name, length(name) - 8)
    t[name] += ms(d); c[name]++
}
END {
    for (k in t) if (c[k] >= n - 2) { total += t[k]; launches += c[k] }
    printf "%s: %.1f launches and %.2f ms of kernel time per step (%d steps)\n", m, launches / n, total / n, n
    cmd = "sort -t '\t' -k1,1 -gr"
    for (k in t) if (c[k] >= n - 2) printf "%.3f\t%.1f\t%s\n", t[k] / n, c[k] / n, k | cmd
    close(cmd)
}
