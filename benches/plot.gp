# benches/plot.gp - throughput and latency plots of one benchmark run.
# usage: gnuplot -e "dir='benches/results/NAME'" benches/plot.gp
# reads DIR/throughput.dat and DIR/latency.dat (written by benches/report.py summarize)
if (!exists("dir")) dir = "."
set terminal pngcairo size 900,540 font "sans,10"
set grid ytics
set key top right

set output dir."/throughput.png"
set title "fundguard throughput: end-to-end (all detectors) vs ceiling (consume + decode only)"
set xlabel "events replayed (log scale)"
set ylabel "events / s (median of runs)"
set logscale x
set format x "%.0s%c"
set yrange [0:*]
plot dir."/throughput.dat" using 1:2 with linespoints lw 2 pt 7 title "ceiling (decode-only mode)", \
     ""                    using 1:3 with linespoints lw 2 pt 5 title "end-to-end (detect)"

set output dir."/latency.png"
unset logscale x
set format x "%g"
set title "alert latency: input appended -> alert appended"
set xlabel "size and offered load"
set ylabel "ms (log scale)"
set logscale y
set yrange [*:*]
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -30
plot dir."/latency.dat" using 4:xtic(1) title "p50", \
     ""                 using 5 title "p95", \
     ""                 using 6 title "p99"
