# Roofline: llama3.1-8b on h100-sxm (prefill,decode)
# Written by dfsim with roofline.dat; restyle and re-run with: gnuplot roofline.gp (in this directory)
set terminal svg size 1000,680 dynamic noenhanced font 'sans,12' background rgb 'white'
set output 'roofline.svg'
set title 'Roofline: llama3.1-8b on h100-sxm (prefill,decode)'
set logscale xy
set grid xtics ytics mxtics mytics lc rgb '#dddddd'
set samples 400
set xlabel 'arithmetic intensity (FLOP per DRAM byte)'
set ylabel 'TFLOP/s'
set xrange [0.01:10000]
set yrange [0.001:10000]
set key inside right bottom box opaque
set format x '%g'
set format y '%g'
peak = 989.4  # bf16 TFLOP/s
dram = 3.35  # HBM TB/s
roof(x) = x * dram < peak ? x * dram : peak
plot roof(x) with lines lw 3 lc rgb 'black' title 'HBM 3.35 TB/s / fp16/bf16 989.4 TFLOPS', \
  (x >= 590.716418 ? 1978.9 : 1/0) with lines dt 2 lw 1.5 lc rgb '#e15759' title 'fp8/int8 1.979 PFLOPS', \
  (x >= 147.671642 ? 494.7 : 1/0) with lines dt 2 lw 1.5 lc rgb '#f28e2b' title 'fp32 494.7 TFLOPS', \
  (x >= 19.9701493 ? 66.9 : 1/0) with lines dt 2 lw 1.5 lc rgb '#59a14f' title 'fp32 vector 66.9 TFLOPS', \
  (x * dram > peak && x * dram <= 1978.9 ? x * dram : 1/0) with lines dt 2 lw 1 lc rgb 'black' notitle, \
  (x * 9.8 <= peak ? x * 9.8 : 1/0) with lines dt 3 lw 1.5 lc rgb '#b07aa1' title 'L2 9.8 TB/s', \
  'roofline.dat' index 0 using 1:2 with points pt 7 ps 1.4 lc rgb '#1f77b4' title 'prefill kernels', \
  '' index 0 using 1:2:3 with labels left offset 0.8,0.3 font ',9' tc rgb '#1f77b4' notitle, \
  '' index 0 using 1:2:4 with labels right offset -0.8,0.3 font ',9' tc rgb '#1f77b4' notitle, \
  'roofline.dat' index 1 using 1:2 with points pt 5 ps 1.4 lc rgb '#d62728' title 'decode kernels', \
  '' index 1 using 1:2:3 with labels left offset 0.8,0.3 font ',9' tc rgb '#d62728' notitle, \
  '' index 1 using 1:2:4 with labels right offset -0.8,0.3 font ',9' tc rgb '#d62728' notitle
set output
