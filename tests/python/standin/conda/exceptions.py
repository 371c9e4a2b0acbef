class CondaError(Exception):
    pass


class CondaSystemExit(CondaError, SystemExit):
    pass


class DryRunExit(CondaError):
    def __init__(self):
        super().__init__("Dry run. Exiting.")


class EnvironmentNameNotFound(CondaError):
    def __init__(self, name):
        super().__init__(f"Could not find conda environment: {name}")
