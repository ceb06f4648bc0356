"""The clinic's care guidance for each service: what a client reads before and after a visit.

Seeded into each service's `preparation`, `what_to_expect` and `aftercare` (one paragraph a
line), where an admin can change it; the README's "The clinic's rules" says where it comes
from. Never a diagnosis, never a medication by name.
"""

PREPARATION = {
    "facial": (
        "Come with your usual skin: makeup is fine, we cleanse your skin first.\n"
        "Skip scrubs, peels and at-home exfoliating acids for two days before."),
    "extraction": (
        "Come with clean skin if you can; we cleanse it again before we start.\n"
        "Don't squeeze or pick the spots you want treated in the days before.\n"
        "Tell us about any medicines you take for your skin."),
}
WHAT_TO_EXPECT = {
    "facial": (
        "About an hour: a deep cleanse, gentle extraction of blackheads and clogged pores, "
        "and a calming mask.\n"
        "Extractions can sting a little; tell your aesthetician if anything hurts."),
    "extraction": (
        "About half an hour with a board-certified dermatologist, using sterile "
        "instruments.\n"
        "Cysts, milia and inflamed spots are treated; large, painful, growing, very red or "
        "warm lumps, and spots with pus, are for a dermatologist rather than a facial."),
}
AFTERCARE = {
    "facial": (
        "Until tomorrow, leave your skin alone: no touching, no makeup if you can.\n"
        "Use a mild, fragrance-free moisturiser; avoid thick, heavy creams and products with "
        "acids for two days.\n"
        "Redness should not last more than 24 hours.\n"
        "A breakout a day or two later is normal purging after extractions: don't squeeze it."),
    "extraction": (
        "Keep the treated spots clean and leave them alone until tomorrow.\n"
        "Use a mild, fragrance-free moisturiser; avoid thick, heavy creams and products with "
        "acids for two days.\n"
        "Redness should not last more than 24 hours.\n"
        "Call us if a spot becomes painful, warm or swollen, or if redness lasts longer."),
}
#: What a client should know whatever the service.
WHEN_TO_CALL = ("Call us, or see a dermatologist, if redness lasts more than a day, or a spot "
                "becomes large, painful, warm or filled with pus.")
