// Plots drawn by gnuplot. The data file and the script are kept next to the image
// (<image stem>.dat, <image stem>.gp), so a user can restyle a plot and re-run `gnuplot X.gp` in
// that directory without dfsim.
#pragma once

#include <string>

namespace dfsim {

// The images asked for (either may be empty, not both) and the files written beside them.
struct PlotFiles {
  std::string svg, png;     // as given
  std::string directory;    // of the first image; the script runs here
  std::string data_name;    // "<stem>.dat", relative to `directory`
  std::string script_name;  // "<stem>.gp"
};

// Throws InputError when neither image is given or an image has the wrong extension.
PlotFiles plot_files(const std::string& svg, const std::string& png);

// Quotes text for a gnuplot string literal ('...').
std::string gnuplot_quote(const std::string& text);

// Writes `data` and a script made of terminal/output lines for each image around `commands`
// (which read `files.data_name`), then runs gnuplot on it. A missing gnuplot or a failing script
// throws std::runtime_error with gnuplot's message; the data and script are on disk either way.
void render_plot(const PlotFiles& files, const std::string& data, const std::string& commands,
                 const std::string& title);

}  // namespace dfsim
