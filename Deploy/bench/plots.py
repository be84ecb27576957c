"""gnuplot SVGs for the benchmark reports: one line per system, one plot per measure."""
import os
import subprocess
import sys

PRELUDE = """set terminal svg size 760,440 dynamic font "sans,12" background rgb "white"
set logscale x 2
set key outside right top
set grid
set datafile missing "?"
"""


def draw(out, prefix, xlabel, data, plots, xrange=None):
    """Draws `plots` ({name: (ylabel, y settings, data column, extra plot terms)}) from `data`
    ({system: .dat path}) into OUT/PREFIX-NAME.svg, and prints where they went."""
    common = PRELUDE + f'set xlabel "{xlabel}"\n' + (f"set xrange [{xrange[0]}:{xrange[1]}]\n" if xrange else "")
    for name, (label, scale, column, extra) in plots.items():
        lines = ", ".join(f"'{path}' using 1:{column} with linespoints title '{system}'" for system, path in data.items())
        script = common + scale + f"set ylabel '{label}'\nset output '{os.path.join(out, prefix + '-' + name + '.svg')}'\n"
        script += f"plot {lines}{extra}\n"
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
    print("plots: " + ", ".join(os.path.join(out, f"{prefix}-{name}.svg") for name in plots), file=sys.stderr)
