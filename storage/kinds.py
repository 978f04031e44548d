"""The closed vocabularies shared by plan files, commune files and the schema."""

from __future__ import annotations

from enum import StrEnum


class UnitKind(StrEnum):
    """What a unit is: an administrative level or an agency."""

    province = "province"
    city = "city"
    district = "district"
    commune = "commune"  # xã, phường, thị trấn
    hamlet = "hamlet"  # thôn, khu phố, tổ dân phố, ấp
    health_station = "health_station"  # Trạm Y tế
    preschool = "preschool"  # Trường Mầm non
    primary_school = "primary_school"  # Trường Tiểu học
    secondary_school = "secondary_school"  # Trường THCS
    police = "police"  # Công an xã / phường / thành phố
    justice = "justice"  # Tư pháp - Hộ tịch
    culture = "culture"  # Văn hóa - Thông tin
    commune_office = "commune_office"  # UBND / Văn phòng, công chức VHXH
    mass_org = "mass_org"  # Mặt trận, Đoàn Thanh niên, Hội Phụ nữ...
    labour_dept = "labour_dept"  # Phòng Lao động - Thương binh và Xã hội / Văn hóa - Xã hội
    health_dept = "health_dept"  # Phòng Y tế, Trung tâm Y tế
    education_dept = "education_dept"  # Phòng Giáo dục và Đào tạo
    culture_dept = "culture_dept"  # Phòng Văn hóa và Thông tin
    justice_dept = "justice_dept"  # Phòng Tư pháp
    other_agency = "other_agency"


ADMIN_KINDS = frozenset(
    {UnitKind.province, UnitKind.city, UnitKind.district, UnitKind.commune, UnitKind.hamlet}
)


class IndicatorKind(StrEnum):
    """How an indicator is reported and how the commune figure is made."""

    rate = "rate"  # numerator / denominator x factor (100, 1000, 100000)
    share_units = "share_units"  # each unit says yes/no; share of units meeting a standard
    yes_no = "yes_no"  # one yes/no for the commune
    count = "count"  # a number, listed not computed
    change = "change"  # a count compared with last year or a baseline year
    task = "task"  # a status and a short text


class Direction(StrEnum):
    """What a target asks for."""

    at_least = "at_least"  # đạt, phấn đấu, trên, ≥
    at_most = "at_most"  # không quá, ≤
    below = "below"  # dưới, <
    above = "above"  # trên (strict), >
    range = "range"  # từ value đến value_max
    reduce_per_year = "reduce_per_year"  # giảm value% (to value_max%) mỗi năm so với năm trước
    reduce_vs_year = "reduce_vs_year"  # giảm value% so với năm ref_year
    yes = "yes"  # đạt chuẩn (yes/no indicators)
    maintain = "maintain"  # duy trì: not fewer than last year
    none = "none"  # qualitative: listed, not judged


class Role(StrEnum):
    """What a person may do for a unit."""

    collaborator = "collaborator"
    agency = "agency"
    officer = "officer"
    admin = "admin"


class TaskStatus(StrEnum):
    """Progress of a task indicator."""

    not_started = "not_started"
    in_progress = "in_progress"
    done = "done"
