"""Next steps: the commands beyond the core story, each a few dozen lines on top of it.

Read these after ``commands/`` (README.md, "Next steps"): ``revert`` (a merge
with the roles turned), ``rebase`` (commits replayed one by one), ``stash``
(local changes stored as commits), ``tag`` (annotated tag objects) and
``worktree`` (a second work tree sharing one repository).  They use the same
layers as the core commands (``trees``, ``switching``, ``merging``,
``porcelain``) and add no new format.  ``python -m learn_git`` runs them like
any other command.
"""
