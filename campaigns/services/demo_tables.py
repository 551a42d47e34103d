"""The demo dataset's source tables: cities, countries, names, awkward values, preferences."""

from __future__ import annotations

import unicodedata


def _table(text: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.split("|")] for line in text.strip().splitlines()]


CITIES = [  # city, state, country, venue, latitude, longitude
    (city, state, country, venue, float(lat), float(lon))
    for city, state, country, venue, lat, lon in _table("""
        New York    | NY   | US | Madison Square Garden   | 40.7505  | -73.9934
        Los Angeles | CA   | US | Crypto.com Arena        | 34.0430  | -118.2673
        Chicago     | IL   | US | United Center           | 41.8807  | -87.6742
        Austin      | TX   | US | Moody Center            | 30.2820  | -97.7320
        Toronto     | ON   | CA | Scotiabank Arena        | 43.6435  | -79.3791
        Montréal    | QC   | CA | Centre Bell             | 45.4961  | -73.5693
        Mexico City | CDMX | MX | Palacio de los Deportes | 19.4053  | -99.0953
        Monterrey   | NL   | MX | Arena Monterrey         | 25.6795  | -100.2870
        London      |      | GB | The O2                  | 51.5030  | 0.0032
        Manchester  |      | GB | AO Arena                | 53.4880  | -2.2446
        Dublin      |      | IE | 3Arena "The Point"      | 53.3474  | -6.2285
        Berlin      | BE   | DE | Uber Arena              | 52.5053  | 13.4432
        Köln        | NW   | DE | LANXESS arena           | 50.9384  | 6.9830
        Sydney      | NSW  | AU | Qudos Bank Arena        | -33.8468 | 151.0657
        Melbourne   | VIC  | AU | Rod Laver Arena         | -37.8216 | 144.9785
        Auckland    | AUK  | NZ | Spark Arena             | -36.8475 | 174.7860
    """)
]
_COUNTRIES = _table("""
    US | en-us       | +1212555   | 10001, 90012, 60612, 78701, 02134
    CA | en-ca fr-ca | +1416555   | M5V 2T6, H3B 5E8, V6B 1A1
    MX | es-mx en-mx | +52551234  | 06600, 64000, 44100
    GB | en-gb en-uk | +44770090  | SW1A 1AA, M1 1AE, EC1A 1BB
    IE | en-ie       | +35385123  | D02 X285, D01 F5P2
    DE | de-de       | +491511234 | 10115, 50667, 80331
    AU | en-au       | +6141234   | 2000, 3000
    NZ | en-nz       | +642112    | 1010, 6011
""")
LOCALES = {country: tuple(locales.split()) for country, locales, _, _ in _COUNTRIES}
PHONE_PREFIXES = {country: prefix for country, _, prefix, _ in _COUNTRIES}  # + 4 digits
POSTAL_CODES = {country: tuple(codes.split(", ")) for country, _, _, codes in _COUNTRIES}
FIRST_NAMES = "Olivia Liam Emma Noah Ava Mateo Sofía Lucas Chloé Jack Mia Oliver Hannah Finn Aroha Ciara Leon".split()
LAST_NAMES = "Smith Johnson García Martínez Tremblay Roy Hernández Brown Murphy Kelly Müller O'Connor Nguyen".split()
SLUGS = {
    name: unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().replace("'", "").lower()
    for name in FIRST_NAMES + LAST_NAMES
}
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example")
AWKWARD = (  # first name, last name, e-mail: one kind per awkward row, in rotation
    ("Anne, Marie", "Smith, Jr.", '"anne,marie"@example.com'),
    ('Robert "Bobby"', 'O"Brien', '"bobby"@example.com'),
    ("Tab\tFirst", "Tab\tLast", "tab\tuser@example.com"),
    ("Line\nBreak", "Two\nLines", "new\nline@example.com"),
    ("Carriage\rReturn", "Windows\r\nLine", "cr\r@example.com"),
    ("Zoë", "Ñúñez", "zoë.ñúñez@exämple.com"),
    ("太郎", "山田 太郎", "yamada@例え.jp"),
    ("Ὀδυσσεύς", "Λαερτιάδης", "odysseus@example.gr"),
    ("Rock 🎸", "Star 🌟", "rock🎸@example.com"),
    ('=HYPERLINK("http://x")', "@SUM(1+1)", "=cmd@example.com"),
    ("+cmd", "-2+3", "+1@example.com"),
    ("@handle", "=1+2", "-dash@example.com"),
    ("", "", ""),
)
CAMPAIGN_NAMES = (  # artist, tour
    ("Taylor Nova", "The Midnight Eras Tour"),
    ("Los Tigres del Sol", 'Gira "Fuego, Vivo" 2025'),
    ("Zoë & The Ñandús", "Über Alles Tour"),
    ("山田バンド", "World Tour 🌏"),
    ("The Commas, Inc.", "=Tour() Live"),
)
PROMOTER_NAMES = ("Live Nation", "AEG Presents", "OCESA", "MCD Productions", "Frontier Touring", 'Sol, "S.A."')
PREFERENCES = (  # id, type, is_optional, {locale: label}
    ("favorite_song", "select", False, {"en-us": "Favorite song", "fr-ca": "Chanson préférée", "es-mx": "Canción"}),
    ("seen_live", "checkbox", True, {"en-us": "I have seen them live", "fr-ca": "Je les ai déjà vus en concert"}),
    ("ticket_count", "select", False, {"en-us": "How many tickets?", "de-de": "Wie viele Tickets?"}),
    ("why_you", "text", True, {"en-us": 'Why should we pick you, "superfan"?', "fr-ca": "Pourquoi vous?"}),
    ("accessible_seating", "checkbox", True, {"en-us": "I need accessible seating", "en-gb": "Accessible seats"}),
    ("merch_size", "select", True, {"en-us": "T-shirt size", "es-mx": "Talla de camiseta"}),
)
SELECT_OPTIONS = {
    "favorite_song": ("Anti-Hero", "Cruel Summer", "Love Story", "Shake It Off"),
    "ticket_count": ("1", "2", "4"),
    "merch_size": ("S", "M", "L", "XL"),
}
TEXT_ANSWERS = ("Since day one!", "My daughter loves you", "Saw you in 2019, best night ever", "")
