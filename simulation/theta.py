"""Scalar parameters packed into one float64 vector for the Numba kernels.

Kernels index ``theta`` with the constants below; ``pack_theta`` fills it from a ``ModelParams``.
Mechanism switches are stored as 0.0 / 1.0 so a switch multiplies the term it gates.
"""

from __future__ import annotations

import numpy as np

from .params import ModelParams, get_param

# (constant name, dotted parameter) — the order defines the index.
_LAYOUT = [
    ("SW_ENTRY", "mechanisms.entry"),
    ("SW_SUPPORT", "mechanisms.peer_support"),
    ("SW_STIGMA", "mechanisms.stigma_pathway"),
    ("SW_ACTIVATION", "mechanisms.activation_pathway"),
    ("SW_INTERVENTION", "mechanisms.intervention_pathway"),
    ("SW_MISINFO", "mechanisms.misinformation"),
    ("SW_CORRECTION", "mechanisms.correction"),
    ("SW_HOSTILITY", "mechanisms.hostility"),
    ("SW_UNCERTAINTY", "mechanisms.uncertainty"),
    ("SW_OFFLINE", "mechanisms.offline_translation"),
    ("JOIN_RATE", "entry.join_rate"),
    ("LEAVE_RATE", "entry.leave_rate"),
    ("LEAVE_HOSTILITY", "entry.leave_after_hostility"),
    ("BELONGING_RETENTION", "entry.belonging_retention"),
    ("HOME_BIAS", "entry.home_bias"),
    ("HOSTILITY_MEMORY", "entry.hostility_memory"),
    ("READ_RATE", "exchange.read_rate"),
    ("SUPPORT_PER_POST", "exchange.support_per_post"),
    ("HEALTH_POST_SHARE", "exchange.health_post_share"),
    ("MISINFO_ADOPTION", "exchange.misinfo_adoption"),
    ("CORRECTION_MODERATOR", "exchange.correction_moderator"),
    ("CORRECTION_PEER", "exchange.correction_peer"),
    ("CORRECTION_CLINICIAN", "exchange.correction_clinician"),
    ("MISINFO_RENEWAL", "exchange.misinfo_renewal"),
    ("HOSTILE_PER_READ", "exchange.hostile_per_read"),
    ("PSYCHOSIS_HOSTILITY", "exchange.psychosis_hostility"),
    ("MODERATION_EFFICACY", "exchange.moderation_efficacy"),
    ("SUPPORTER_POST_RATE", "exchange.supporter_post_rate"),
    ("BELONGING_GAIN", "stigma.belonging_gain"),
    ("BELONGING_DECAY", "stigma.belonging_decay"),
    ("HOSTILITY_BELONGING_LOSS", "stigma.hostility_belonging_loss"),
    ("EMPOWERMENT_GAIN", "stigma.empowerment_gain"),
    ("EMPOWERMENT_RELAXATION", "stigma.empowerment_relaxation"),
    ("HOSTILITY_EMPOWERMENT_LOSS", "stigma.hostility_empowerment_loss"),
    ("STIGMA_REDUCTION", "stigma.stigma_reduction"),
    ("HOSTILITY_STIGMA_GAIN", "stigma.hostility_stigma_gain"),
    ("STIGMA_RELAXATION", "stigma.stigma_relaxation"),
    ("CAMPAIGN_EFFECT", "stigma.campaign_effect"),
    ("LEARNING_GAIN", "activation.learning_gain"),
    ("EMPOWERMENT_BOOST", "activation.empowerment_boost"),
    ("ACTIVATION_RELAXATION", "activation.relaxation"),
    ("MISINFO_DRAG", "activation.misinfo_drag"),
    ("UNCERTAINTY_DRAG", "activation.uncertainty_drag"),
    ("UNCERTAINTY_GAIN", "activation.uncertainty_gain"),
    ("UNCERTAINTY_RELIEF", "activation.uncertainty_relief"),
    ("UNCERTAINTY_RELAXATION", "activation.uncertainty_relaxation"),
    ("SEEK_RATE", "care.seek_rate"),
    ("SEEK_SLOPE", "care.seek_activation_slope"),
    ("SEEK_STIGMA", "care.seek_stigma_barrier"),
    ("SEEK_MISINFO", "care.seek_misinfo_barrier"),
    ("PEER_ENCOURAGEMENT", "care.peer_encouragement"),
    ("CARE_ENTRY", "care.entry_rate"),
    ("DISENGAGE_RATE", "care.disengage_rate"),
    ("DISENGAGE_MISINFO", "care.disengage_misinfo"),
    ("DISENGAGE_ACTIVATION", "care.disengage_activation"),
    ("RESEEK_FACTOR", "care.reseek_factor"),
    ("ENROL_RATE", "intervention.enrol_rate"),
    ("DROPOUT_RATE", "intervention.dropout_rate"),
    ("INT_PHYSICAL", "intervention.physical_effect"),
    ("INT_MENTAL", "intervention.mental_effect"),
    ("INT_ENGAGEMENT", "intervention.engagement_effect"),
    ("WB_ADJUST", "wellbeing.adjust_rate"),
    ("WB_BELONGING", "wellbeing.belonging_effect"),
    ("WB_EMPOWERMENT", "wellbeing.empowerment_effect"),
    ("WB_STIGMA", "wellbeing.stigma_effect"),
    ("WB_UNCERTAINTY", "wellbeing.uncertainty_effect"),
    ("WB_CARE_MENTAL", "wellbeing.care_effect_mental"),
    ("WB_CARE_PHYSICAL", "wellbeing.care_effect_physical"),
    ("WB_HOSTILITY", "wellbeing.hostility_shock"),
    ("RECOVERY_RATE", "offline.recovery_rate"),
    ("RECOVERY_WELLBEING", "offline.recovery_wellbeing"),
    ("RECOVERY_ACTIVATION", "offline.recovery_activation"),
    ("RECOVERY_CARE", "offline.recovery_care"),
    ("EMPLOYMENT_GAIN", "offline.employment_gain"),
    ("EMPLOYMENT_LOSS", "offline.employment_loss"),
    ("CARE_COMPLETION", "care.completion_rate"),
    ("STIFLING", "exchange.stifling"),
    ("PEER_NORM", "stigma.peer_norm_weight"),
    ("CORRECTION_REPLY", "exchange.correction_reply"),
    ("SWITCH_SHARE", "entry.switch_share"),
    ("SW_OFFLINE_INFO", "mechanisms.offline_information"),
    ("SW_TRUST", "mechanisms.trust"),
    ("SW_PRIVACY", "mechanisms.privacy"),
    ("SW_VULNERABILITY", "mechanisms.vulnerability"),
    ("SW_DISPLACEMENT", "mechanisms.displacement"),
    ("OFFLINE_MISINFO", "information.offline_misinfo"),
    ("OFFLINE_CORRECTION", "information.offline_correction"),
    ("MISINFO_EFFECT", "information.misinfo_effect"),
    ("CORRECTION_EFFECT", "information.correction_effect"),
    ("TRUST_REF", "population.trust_mean"),
    ("TRUST_LEARNING", "trust.learning_gain"),
    ("TRUST_MODERATION", "trust.moderation_gain"),
    ("TRUST_FOUND_OUT", "trust.found_out_loss"),
    ("TRUST_HOSTILITY", "trust.hostility_loss"),
    ("TRUST_RELAXATION", "trust.relaxation"),
    ("DISCLOSE_PER_POST", "privacy.disclose_per_post"),
    ("HARM_RATE", "privacy.harm_rate"),
    ("HARM_STIGMA", "privacy.harm_stigma"),
    ("HARM_EMPLOYMENT", "privacy.harm_employment"),
    ("HARM_LEAVE", "privacy.harm_leave"),
    ("ACUTE_RATE", "acute.rate"),
    ("ACUTE_VULNERABLE", "acute.vulnerable_ratio"),
    ("ACUTE_WELLBEING", "acute.wellbeing_effect"),
    ("VULNERABLE_HOSTILITY", "exchange.vulnerable_hostility"),
    ("DISPLACEMENT", "entry.offline_displacement"),
    ("SW_ROLES", "mechanisms.role_change"),
    ("POST_RATE_LURKER", "population.post_rate_lurker"),
    ("POST_RATE_CONTRIBUTOR", "population.post_rate_contributor"),
    ("POST_RATE_SUPERUSER", "population.post_rate_superuser"),
    ("BECOME_CONTRIBUTOR", "roles.become_contributor"),
    ("BECOME_SUPERUSER", "roles.become_superuser"),
    ("BURNOUT", "roles.burnout"),
    ("BURNOUT_HOSTILITY", "roles.burnout_hostility"),
    ("SW_CONTENT", "mechanisms.support_by_content"),
    ("RENEWAL_SAME_DAY", "exchange.renewal_same_day"),
]

NAMES = [dotted for _, dotted in _LAYOUT]

SW_ENTRY = 0
SW_SUPPORT = 1
SW_STIGMA = 2
SW_ACTIVATION = 3
SW_INTERVENTION = 4
SW_MISINFO = 5
SW_CORRECTION = 6
SW_HOSTILITY = 7
SW_UNCERTAINTY = 8
SW_OFFLINE = 9
JOIN_RATE = 10
LEAVE_RATE = 11
LEAVE_HOSTILITY = 12
BELONGING_RETENTION = 13
HOME_BIAS = 14
HOSTILITY_MEMORY = 15
READ_RATE = 16
SUPPORT_PER_POST = 17
HEALTH_POST_SHARE = 18
MISINFO_ADOPTION = 19
CORRECTION_MODERATOR = 20
CORRECTION_PEER = 21
CORRECTION_CLINICIAN = 22
MISINFO_RENEWAL = 23
HOSTILE_PER_READ = 24
PSYCHOSIS_HOSTILITY = 25
MODERATION_EFFICACY = 26
SUPPORTER_POST_RATE = 27
BELONGING_GAIN = 28
BELONGING_DECAY = 29
HOSTILITY_BELONGING_LOSS = 30
EMPOWERMENT_GAIN = 31
EMPOWERMENT_RELAXATION = 32
HOSTILITY_EMPOWERMENT_LOSS = 33
STIGMA_REDUCTION = 34
HOSTILITY_STIGMA_GAIN = 35
STIGMA_RELAXATION = 36
CAMPAIGN_EFFECT = 37
LEARNING_GAIN = 38
EMPOWERMENT_BOOST = 39
ACTIVATION_RELAXATION = 40
MISINFO_DRAG = 41
UNCERTAINTY_DRAG = 42
UNCERTAINTY_GAIN = 43
UNCERTAINTY_RELIEF = 44
UNCERTAINTY_RELAXATION = 45
SEEK_RATE = 46
SEEK_SLOPE = 47
SEEK_STIGMA = 48
SEEK_MISINFO = 49
PEER_ENCOURAGEMENT = 50
CARE_ENTRY = 51
DISENGAGE_RATE = 52
DISENGAGE_MISINFO = 53
DISENGAGE_ACTIVATION = 54
RESEEK_FACTOR = 55
ENROL_RATE = 56
DROPOUT_RATE = 57
INT_PHYSICAL = 58
INT_MENTAL = 59
INT_ENGAGEMENT = 60
WB_ADJUST = 61
WB_BELONGING = 62
WB_EMPOWERMENT = 63
WB_STIGMA = 64
WB_UNCERTAINTY = 65
WB_CARE_MENTAL = 66
WB_CARE_PHYSICAL = 67
WB_HOSTILITY = 68
RECOVERY_RATE = 69
RECOVERY_WELLBEING = 70
RECOVERY_ACTIVATION = 71
RECOVERY_CARE = 72
EMPLOYMENT_GAIN = 73
EMPLOYMENT_LOSS = 74
CARE_COMPLETION = 75
STIFLING = 76
PEER_NORM = 77
CORRECTION_REPLY = 78
SWITCH_SHARE = 79
SW_OFFLINE_INFO = 80
SW_TRUST = 81
SW_PRIVACY = 82
SW_VULNERABILITY = 83
SW_DISPLACEMENT = 84
OFFLINE_MISINFO = 85
OFFLINE_CORRECTION = 86
MISINFO_EFFECT = 87
CORRECTION_EFFECT = 88
TRUST_REF = 89
TRUST_LEARNING = 90
TRUST_MODERATION = 91
TRUST_FOUND_OUT = 92
TRUST_HOSTILITY = 93
TRUST_RELAXATION = 94
DISCLOSE_PER_POST = 95
HARM_RATE = 96
HARM_STIGMA = 97
HARM_EMPLOYMENT = 98
HARM_LEAVE = 99
ACUTE_RATE = 100
ACUTE_VULNERABLE = 101
ACUTE_WELLBEING = 102
VULNERABLE_HOSTILITY = 103
DISPLACEMENT = 104
SW_ROLES = 105
POST_RATE_LURKER = 106
POST_RATE_CONTRIBUTOR = 107
POST_RATE_SUPERUSER = 108
BECOME_CONTRIBUTOR = 109
BECOME_SUPERUSER = 110
BURNOUT = 111
BURNOUT_HOSTILITY = 112
SW_CONTENT = 113
RENEWAL_SAME_DAY = 114


def pack_theta(params: ModelParams) -> np.ndarray:
    """The kernels' parameter vector, in ``_LAYOUT`` order."""
    return np.array([float(get_param(params, dotted)) for dotted in NAMES], dtype=np.float64)


def _check_layout() -> None:
    g = globals()
    for index, (const, _) in enumerate(_LAYOUT):
        if g[const] != index:
            raise AssertionError(f"theta layout: {const} should be {index}")


_check_layout()
