"""The demo network's data: its clinics, the conditions its patients are referred for
(with where each is treated and the precautions its referrals carry), and the names it
gives people. The seed (seed.py) draws from these; nothing else does."""

from __future__ import annotations

from careledger.domain.body import BodyRegion, Side, Site
from careledger.domain.clinical import Discipline, FunctionalInstrument, Technique
from careledger.domain.precautions import CodedPrecaution, Precaution

CLINICS = [
    ("Riverside Medical Massage", [Discipline.MEDICAL_MASSAGE], "12 River St, Albany NY",
     42.6526, -73.7562, 15.0),
    ("Hudson Physical Therapy", [Discipline.PHYSICAL_THERAPY, Discipline.MEDICAL_MASSAGE],
     "400 Broadway, Troy NY", 42.7284, -73.6918, 10.0),
    ("Capital Chiropractic & Rehab", [Discipline.CHIROPRACTIC, Discipline.PHYSICAL_THERAPY],
     "88 State St, Schenectady NY", 42.8142, -73.9396, 0.0),
    ("Saratoga Lymphedema Center", [Discipline.MEDICAL_MASSAGE, Discipline.PHYSICAL_THERAPY],
     "5 Spring St, Saratoga Springs NY", 43.0831, -73.7846, 25.0),
]

#: condition, ICD-10-CM codes, functional instrument, techniques, contraindicated techniques
CONDITIONS: list[tuple[str, list[str], FunctionalInstrument, list[Technique], list[Technique]]] = [
    ("low back pain", ["M54.50"], FunctionalInstrument.ODI,
     [Technique.MYOFASCIAL_RELEASE, Technique.TRIGGER_POINT, Technique.THERAPEUTIC_EXERCISE], []),
    ("neck pain", ["M54.2"], FunctionalInstrument.NDI,
     [Technique.SOFT_TISSUE_MOBILIZATION, Technique.STRETCHING, Technique.TRIGGER_POINT], []),
    ("sciatica", ["M54.31", "M54.32"], FunctionalInstrument.ODI,
     [Technique.MYOFASCIAL_RELEASE, Technique.STRETCHING, Technique.THERAPEUTIC_EXERCISE], []),
    ("fibromyalgia", ["M79.7"], FunctionalInstrument.ODI,
     [Technique.SWEDISH_MASSAGE, Technique.STRETCHING], [Technique.DEEP_TISSUE]),
    ("whiplash", ["S13.4XXA"], FunctionalInstrument.NDI,
     [Technique.SOFT_TISSUE_MOBILIZATION, Technique.MYOFASCIAL_RELEASE,
      Technique.THERAPEUTIC_EXERCISE], [Technique.JOINT_MOBILIZATION]),
    ("post-surgical knee recovery", ["Z47.1", "Z96.651"], FunctionalInstrument.ODI,
     [Technique.SOFT_TISSUE_MOBILIZATION, Technique.THERAPEUTIC_EXERCISE, Technique.STRETCHING],
     [Technique.DEEP_TISSUE]),
    ("lymphedema", ["I89.0"], FunctionalInstrument.ODI,
     [Technique.LYMPHATIC_DRAINAGE, Technique.THERAPEUTIC_EXERCISE], [Technique.DEEP_TISSUE]),
]

#: Where each condition is treated, and the coded precautions its referral carries.
SITES: dict[str, list[Site]] = {
    "low back pain": [Site(BodyRegion.LUMBAR)],
    "neck pain": [Site(BodyRegion.NECK), Site(BodyRegion.SHOULDER, Side.LEFT)],
    "sciatica": [Site(BodyRegion.LUMBAR), Site(BodyRegion.THIGH, Side.LEFT)],
    "fibromyalgia": [Site(BodyRegion.THORACIC), Site(BodyRegion.NECK)],
    "whiplash": [Site(BodyRegion.NECK)],
    "post-surgical knee recovery": [Site(BodyRegion.THIGH, Side.RIGHT),
                                    Site(BodyRegion.LOWER_LEG, Side.RIGHT)],
    "lymphedema": [Site(BodyRegion.FOREARM, Side.LEFT), Site(BodyRegion.UPPER_ARM, Side.LEFT)],
}
CODED: dict[str, list[CodedPrecaution]] = {
    "fibromyalgia": [CodedPrecaution(Precaution.ANTICOAGULANT_THERAPY)],
    "whiplash": [CodedPrecaution(Precaution.ANTICOAGULANT_THERAPY)],
    "post-surgical knee recovery": [
        CodedPrecaution(Precaution.RECENT_SURGERY, Site(BodyRegion.KNEE, Side.RIGHT))],
    "lymphedema": [CodedPrecaution(Precaution.LYMPHEDEMA, Site(BodyRegion.FOREARM, Side.LEFT))],
}

GIVEN = ["Ana", "Ben", "Carla", "Dev", "Elena", "Farid", "Grace", "Hugo", "Iris", "Jamal",
         "Keiko", "Luis", "Maya", "Nikolai", "Olivia", "Pavel", "Quinn", "Rosa", "Sam", "Tara"]
FAMILY = ["Alvarez", "Brooks", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Hughes",
          "Ibrahim", "Jensen", "Kowalski", "Larsen", "Moreau", "Nakamura", "Okafor", "Patel",
          "Quintero", "Rossi", "Schmidt", "Tanaka"]
