"""People of the demo university: names with real-world spelling (accents, apostrophes, non-Latin
letters rendered in Latin script), ASCII e-mail addresses and URL-safe slugs derived from them."""

from __future__ import annotations

import random
import re
import unicodedata

FIRST_NAMES = (
    "Ada", "Noah", "Zoë", "José", "Mila", "Liam", "Søren", "Amélie", "Yusuf", "Priya", "Lucas", "Emma",
    "Mateo", "Ingrid", "Kwame", "Aiko", "Olivia", "Björn", "Fatima", "Chen", "Léa", "Ravi", "Sofía",
    "Jonas", "Nour", "Tomás", "Elif", "Daan", "Hanna", "Ömer", "Julia", "Mei", "Sven", "Amara", "Luca",
    "Maëlle", "Kenji", "Anouk", "Diego", "Freya", "Ilse", "Thijs", "Zara", "Wojciech", "Aurélie", "Sanne",
    "Gabriel", "Leila", "Finn", "Małgorzata", "Ngozi", "Pieter", "Chloé", "Arjun", "Saoirse", "Andrés",
    "Yara", "Bram", "Nikolai", "Ayşe",
)

LAST_NAMES = (
    "Lovelace", "de Vries", "Jansen", "Müller", "García", "Dubois", "Nguyen", "Okafor", "Rossi", "Kowalski",
    "Yılmaz", "Andersson", "O'Brien", "van den Berg", "Bakker", "Schmidt", "Fernández", "Novák", "Takahashi",
    "Haddad", "Singh", "Ødegaard", "Papadopoulos", "Visser", "Smit", "Meijer", "Mulder", "Lefèvre",
    "Hernández", "Wójcik", "Kim", "Ivanova", "Costa", "Nielsen", "Brouwer", "Çelik", "Moreau", "Dekker",
    "Hoekstra", "Mensah", "Santos", "Kaur", "Björklund", "Peeters", "Sato", "Mahmoud", "Fischer", "Ruiz",
    "Van Dijk", "Ó Briain",
)

LECTURER_TITLES = ("Dr.", "Prof.", "Dr.", "Prof. dr.")

# Letters NFKD does not decompose into a base letter plus accent.
_FOLD = str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "ł": "l", "Ł": "L",
                       "đ": "d", "Đ": "D", "ı": "i", "œ": "oe", "Œ": "OE"})


def ascii_fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).encode("ascii", "ignore").decode()


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", ascii_fold(text).lower()).strip("-")


def person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


class EmailBook:
    """Hands out unique addresses: a second `jose.garcia` becomes `jose.garcia2`."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def address(self, first: str, last: str, domain: str) -> str:
        local = ".".join(p for p in (slugify(first).replace("-", ""), slugify(last).replace("-", "")) if p)
        n = self._seen.get(f"{local}@{domain}", 0) + 1
        self._seen[f"{local}@{domain}"] = n
        return f"{local}{n if n > 1 else ''}@{domain}"
