from dataclasses import dataclass, field
from typing import Callable, Optional


@dataclass
class CondaHealthCheck:
    name: str
    action: Callable
    fixer: Optional[Callable] = None
    summary: Optional[str] = None
    fix: Optional[str] = None

    def __post_init__(self):
        self.name = self.name.lower().strip()


@dataclass
class CondaSubcommand:
    name: str
    summary: str
    action: Callable
    aliases: tuple = field(default_factory=tuple)
    configure_parser: Optional[Callable] = None


@dataclass
class CondaPostSolve:
    name: str
    action: Callable
