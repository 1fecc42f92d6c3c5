# Runs torch's own launcher (torchrun) inside the examined interpreter, tied to the doctor by the lifeline.
# Standard library only, Python 3.8+, never an import of torchdoctor.
#
#   python _launcher_child.py <torchrun's arguments>
#
# torchrun starts each rank in a session of its own, so killing torchrun's process group would not reach
# them; when the doctor dies (whatever kills it), this process asks torchrun to stop the way Ctrl-C does
# (SIGTERM to itself: torchrun's handler stops every rank, then exits). The ranks also watch their parent.
import os
import runpy
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _channel_child

del sys.path[0]
_channel_child.ON_DOCTOR_DEATH = "terminate"
_channel_child.open_channel()
sys.argv = ["torch.distributed.run", *sys.argv[1:]]
runpy.run_module("torch.distributed.run", run_name="__main__", alter_sys=True)
