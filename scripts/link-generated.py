"""Put the repository and its generated code on the virtualenv's import path with a .pth file
(so `python -m services.<name>` and `omsctl` work from any folder)."""

import pathlib
import site
import sys

gen = pathlib.Path(sys.argv[1]).resolve()
root = pathlib.Path(__file__).resolve().parents[1]
target = pathlib.Path(site.getsitepackages()[0]) / "zhongshu_oms.pth"
target.write_text(f"{root}\n{gen}\n")
