class StudentOpsError(RuntimeError):
    """An error whose message is a complete, one-line explanation for the user.

    The CLI prints these without a traceback; everything else is a bug and keeps its traceback.
    """
