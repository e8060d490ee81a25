"""Each user's console preferences (language, alert sound), kept in the database so they follow the user.

>>> prefs = Preferences(db)                                  # doctest: +SKIP
>>> await prefs.save("li.wei", Preference(language="zh-CN"))  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from streetwatch.database import Database
from streetwatch.migrations import Migration

Language = Literal["en", "zh-CN"]
LANGUAGES: tuple[str, ...] = get_args(Language)
COMPONENT = "console"

_TABLE = """
CREATE TABLE console_preferences (
    user_name   TEXT PRIMARY KEY,
    language    TEXT NOT NULL,
    alert_sound {bool} NOT NULL
);
"""

MIGRATIONS: list[Migration] = [
    Migration(COMPONENT, 1, "console preferences per user",
              postgresql=_TABLE.format(bool="BOOLEAN"), sqlite=_TABLE.format(bool="INTEGER")),
]


@dataclass(frozen=True, slots=True)
class Preference:
    language: Language = "en"
    alert_sound: bool = False


class Preferences:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def of(self, user: str) -> Preference:
        rows = await self.db.fetch_all("SELECT language, alert_sound FROM console_preferences WHERE user_name = ?",
                                       (user,))
        if not rows:
            return Preference()
        language = rows[0]["language"]
        return Preference(language if language in LANGUAGES else "en", bool(rows[0]["alert_sound"]))

    async def save(self, user: str, preference: Preference) -> None:
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM console_preferences WHERE user_name = ?", (user,))
            await tx.execute("INSERT INTO console_preferences (user_name, language, alert_sound) VALUES (?, ?, ?)",
                             (user, preference.language, preference.alert_sound))
