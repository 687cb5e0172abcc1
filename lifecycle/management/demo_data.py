"""The demo tenant's vocabulary: people, companies, stage mix and the words
their notes use. Data only; `seed_demo` turns it into rows."""

from csplatform.tenancy.models import Role
from lifecycle.models import ContactRole, Stage, Tier

TENANT_NAME = "Northwind Cloud"
TENANT_SLUG = "northwind"
DEMO_PASSWORD = "demo-pass-2026"
SEED = 2026

# email, full name, role, extra membership fields
USERS = [
    ("admin@northwind.test", "Avery Brooks", Role.ADMIN, {}),
    ("leader@northwind.test", "Jordan Ellis", Role.LEADER, {}),
    ("csm@northwind.test", "Casey Morgan", Role.CSM, {}),
    ("csm1@northwind.test", "Riley Chen", Role.CSM, {}),
    ("csm2@northwind.test", "Sam Patel", Role.CSM, {}),
    ("csm3@northwind.test", "Taylor Nguyen", Role.CSM, {}),
    ("viewer@northwind.test", "Morgan Diaz", Role.VIEWER, {}),
]

# How many accounts sit in each stage (out of 200; scaled for --accounts).
STAGE_MIX = {
    Stage.ONBOARDING: 34,
    Stage.ADOPTION: 40,
    Stage.USAGE: 46,
    Stage.VALUE_REALIZATION: 36,
    Stage.ADVOCACY: 26,
    Stage.CHURNED: 18,
}
# Days an account typically stays in a stage before moving on.
DWELL = {
    Stage.ONBOARDING: (21, 60),
    Stage.ADOPTION: (30, 90),
    Stage.USAGE: (45, 120),
    Stage.VALUE_REALIZATION: (60, 150),
    Stage.ADVOCACY: (60, 240),
    Stage.CHURNED: (7, 240),
}
TIERS = [(Tier.STRATEGIC, 2), (Tier.ENTERPRISE, 5), (Tier.MID_MARKET, 8), (Tier.SMB, 5)]
ARR_RANGE = {
    Tier.STRATEGIC: (250_000, 900_000),
    Tier.ENTERPRISE: (80_000, 250_000),
    Tier.MID_MARKET: (20_000, 80_000),
    Tier.SMB: (5_000, 20_000),
}
PLAN = {
    Tier.STRATEGIC: "Enterprise",
    Tier.ENTERPRISE: "Enterprise",
    Tier.MID_MARKET: "Growth",
    Tier.SMB: "Starter",
}
REGIONS = [("NA", 5), ("EMEA", 4), ("APAC", 2), ("LATAM", 1)]
LEGAL_SUFFIX = {
    "NA": ["", "", " Inc.", " LLC"],
    "EMEA": ["", "", " Ltd", " GmbH", " AG", " SA"],
    "APAC": ["", " Pty Ltd", " Pte Ltd", " KK"],
    "LATAM": ["", " S.A.", " Ltda."],
}
INDUSTRY_NOUNS = {
    "Software": ["Labs", "Systems", "Software", "Cloud", "Data"],
    "Healthcare": ["Health", "Medical", "Care", "Diagnostics", "Clinics"],
    "Financial services": ["Capital", "Financial", "Payments", "Insurance", "Bank"],
    "Manufacturing": ["Industries", "Components", "Robotics", "Metalworks", "Manufacturing"],
    "Retail": ["Outfitters", "Market", "Goods", "Supply Co.", "Retail"],
    "Logistics": ["Logistics", "Freight", "Shipping", "Transport", "Fleet"],
    "Education": ["Learning", "Academy", "Education", "Schools"],
    "Media": ["Media", "Studios", "Publishing", "Broadcasting"],
    "Energy": ["Energy", "Power", "Solar", "Utilities"],
    "Professional services": ["Consulting", "Partners", "Advisory", "Group"],
}
# fmt: off
NAME_WORDS = [
    "Acorn", "Alder", "Apex", "Aurora", "Bluebird", "Brightwater", "Cedar", "Cobalt",
    "Copperline", "Crescent", "Driftwood", "Ember", "Evergreen", "Falcon", "Fieldstone",
    "Granite", "Harbor", "Helix", "Ironwood", "Juniper", "Keystone", "Lakeside", "Lumen",
    "Maple", "Meridian", "Northstar", "Oakridge", "Orchard", "Pinnacle", "Quarry",
    "Redwood", "Riverbend", "Sable", "Silverline", "Summit", "Tidewater", "Trillium",
    "Vantage", "Westbrook", "Willow", "Zephyr", "Beacon", "Canyon", "Harvest",
]
FIRST_NAMES = [
    "Ava", "Ben", "Chloe", "Daniel", "Elena", "Felix", "Grace", "Hugo", "Isla", "Jonas",
    "Kira", "Liam", "Maya", "Noah", "Olivia", "Pablo", "Quinn", "Rosa", "Stefan", "Tara",
    "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe", "Aisha", "Bruno", "Carmen", "Dmitri",
    "Emeka", "Fatima",
]
LAST_NAMES = [
    "Anderson", "Becker", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hansen",
    "Ito", "Jensen", "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Perez",
    "Quinlan", "Rossi", "Schmidt", "Tanaka", "Ueda", "Varga", "Wagner", "Xu", "Yamamoto",
    "Zimmermann", "Singh", "Murphy", "Novak", "Silva",
]
# fmt: on
CONTACT_TITLES = {
    ContactRole.CHAMPION: [
        "Head of Operations",
        "Director of Customer Experience",
        "VP Operations",
    ],
    ContactRole.EXECUTIVE_SPONSOR: ["CFO", "COO", "VP Engineering", "Chief Digital Officer"],
    ContactRole.DECISION_MAKER: ["Director of IT", "Procurement Manager", "VP Finance"],
    ContactRole.ADMIN: ["Systems Administrator", "IT Manager", "Platform Admin"],
    ContactRole.END_USER: ["Operations Analyst", "Team Lead", "Operations Specialist"],
}
UPSELL_REASONS = [
    "Upsell: bought the Automation module; onboarding the new team.",
    "Expansion to a second business unit; new kickoff needed.",
]
CHURN_REASONS = [
    "Budget cut after an acquisition.",
    "Moved to a competitor with a bundled offering.",
    "Project cancelled; champion left the company.",
]
FORCE_REASONS = ["Customer confirmed go-live on the steering call; checklist catches up later."]
NOTES = [
    "QBR prep: champion wants a dashboard for regional managers.",
    "Renewal call booked for next month; pricing questions expected.",
    "Admin asked for SSO setup help; sent the guide.",
    "Usage dipped over the holidays, back to normal now.",
    "Exec sponsor happy with the ROI summary; open to a case study.",
    "Asked about API limits for their nightly CRM sync.",
]
ESCALATIONS = [
    "Data sync failing since the last release; weekly report blocked.",
    "Exec sponsor unhappy with support response times.",
    "Invoice dispute holding up the renewal.",
    "Key champion left; no engaged contact.",
    "Performance issues with large exports.",
]
