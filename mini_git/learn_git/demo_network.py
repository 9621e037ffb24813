"""A shim: ``python -m learn_git.demo_network`` runs the network demo, now ``learn_git.network.demo``.

Kept only so that the pattern list's old module name keeps working; read
``network/demo.py``.
"""

from .network.demo import main

if __name__ == "__main__":
    main()
