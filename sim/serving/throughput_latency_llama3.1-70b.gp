# dfsim sweep: llama3.1-70b, 1000 x (512 + 256) tokens
# Written by dfsim with throughput_latency_llama3.1-70b.dat; restyle and re-run with: gnuplot throughput_latency_llama3.1-70b.gp (in this directory)
set terminal svg size 1000,680 dynamic noenhanced font 'sans,12' background rgb 'white'
set output 'throughput_latency_llama3.1-70b.svg'
set multiplot layout 1,2 title 'dfsim sweep: llama3.1-70b, 1000 x (512 + 256) tokens (points: load.rate)'
set grid
set key top left
set xlabel 'output tokens/s'
set ylabel 'mean TTFT (s)'
set logscale y
plot  'throughput_latency_llama3.1-70b.dat' index 0 using 1:2 with linespoints lc 1 pt 7 ps 0.6 title 'dgx-h100, looping off', \
     'throughput_latency_llama3.1-70b.dat' index 1 using 1:2 with linespoints lc 2 pt 7 ps 0.6 title 'dgx-h100, looping on', \
     'throughput_latency_llama3.1-70b.dat' index 2 using 1:2 with linespoints lc 3 pt 7 ps 0.6 title 'sn40l-8, looping off', \
     'throughput_latency_llama3.1-70b.dat' index 3 using 1:2 with linespoints lc 4 pt 7 ps 0.6 title 'sn40l-8, looping on'
set ylabel 'mean ITL (ms)'
unset logscale y
plot  'throughput_latency_llama3.1-70b.dat' index 0 using 1:3 with linespoints lc 1 pt 7 ps 0.6 notitle, \
     'throughput_latency_llama3.1-70b.dat' index 1 using 1:3 with linespoints lc 2 pt 7 ps 0.6 notitle, \
     'throughput_latency_llama3.1-70b.dat' index 2 using 1:3 with linespoints lc 3 pt 7 ps 0.6 notitle, \
     'throughput_latency_llama3.1-70b.dat' index 3 using 1:3 with linespoints lc 4 pt 7 ps 0.6 notitle
unset multiplot
set output
