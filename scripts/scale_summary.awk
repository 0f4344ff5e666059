# scale_summary.awk — sums up the "scale rank=R key=value ..." lines that tests/mp/scale_rank.c
# prints (one per rank) for bench/scale.sh and tests/mp/scale.sh, which both read it from here:
# init to first all_reduce (earliest rank start to the last rank's first all_reduce), leave
# (from the last rank's call of tacl_comm_destroy to the last return), sockets and shm MiB per
# rank (mean), and how many ranks printed the right sum (n * (n + 1) / 2).
#
#   awk -v form=row -v n=N -v run=RUN -v wall=S -v warns=W -v cuts=C -v rc=RC -f scale_summary.awk OUT
#       one markdown row of bench/scale.sh's table ("-" figures and "0 (rc RC)" when no rank
#       reported)
#   awk -v form=line -v n=N -v wall=S -v warns=W -f scale_summary.awk OUT
#       the one line tests/mp/scale.sh prints for the record once its checks have passed
/^scale rank=/ {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    if (v["sum"] == n * (n + 1) / 2) ok++
    if (!seen || v["start"] < first) first = v["start"]
    end = v["start"] + v["first_ar_s"]; if (!seen || end > last) last = end
    a = v["start"] + v["leave_at_s"]; if (!seen || a > lastin) lastin = a
    e = v["start"] + v["end_s"]; if (!seen || e > lastout) lastout = e
    socks += v["sockets"]; shm += v["shm_bytes"]; seen++
}
END {
    if (form == "row") {
        if (!seen) { printf "| %d | %d | %.2f | - | - | - | - | %d | %d | 0 (rc %d) |\n", n, run, wall, warns, cuts, rc; exit }
        printf "| %d | %d | %.2f | %.3f | %.3f | %.1f | %.1f | %d | %d | %d%s |\n", n, run, wall,
               last - first, lastout - lastin, socks / seen, shm / seen / 1048576, warns, cuts, ok,
               rc ? sprintf(" (rc %d)", rc) : ""
    } else {
        printf "scale N=%d: ok in %.2f s; init to first all_reduce %.3f s, leave (last in to last out) %.3f s, " \
               "%.1f sockets and %.1f MiB shm per rank, %d warning lines\n",
               n, wall, last - first, lastout - lastin, socks / seen, shm / seen / 1048576, warns
    }
}
