"""The one place schema (the places route's records, planner and package stops): the JSON
schema in the OpenAPI document and the validator agree on every rule, lat/lon together or not
at all included."""

from __future__ import annotations

import jsonschema
import pytest
from pydantic import ValidationError

from recstack.matching.package_io import PackageIn, PlannerIn, Stop
from recstack.matching.place import Place, PlaceRecord

BODIES = [
    ({"name": "Busan Station", "lat": 35.115, "lon": 129.041}, True),
    ({"name": "Busan Station", "lat": 35, "lon": 129}, True),  # whole numbers are numbers
    ({"name": "Gyeongju"}, True),
    ({"name": "Gyeongju", "lat": None, "lon": None}, True),  # null counts as not given
    ({"name": "Gyeongju", "lat": 35.8}, False),
    ({"name": "Gyeongju", "lon": 129.2}, False),
    ({"name": "Gyeongju", "lat": None, "lon": 129.2}, False),
    ({"name": "Gyeongju", "lat": 35.8, "lon": None}, False),
    ({"name": "Gyeongju", "lat": 91, "lon": 0}, False),
    ({"name": "Gyeongju", "lat": 0, "lon": -180.5}, False),
    ({"name": "Gyeongju", "lat": True, "lon": False}, False),  # not coordinates
    ({"name": "Gyeongju", "lat": "35.8", "lon": "129.2"}, False),
    ({"name": " "}, False),
    ({"lat": 35.8, "lon": 129.2}, False),
    ({"name": "Gyeongju", "city": "Gyeongju"}, False),
]


@pytest.mark.parametrize("model", [Place, PlaceRecord])
@pytest.mark.parametrize(("body", "valid"), BODIES)
def test_the_schema_and_the_validator_agree(model, body, valid):
    schema = model.model_json_schema()
    schema_says = jsonschema.Draft202012Validator(schema).is_valid(body)
    try:
        model.model_validate(body)
        validator_says = True
    except ValidationError:
        validator_says = False
    assert schema_says == validator_says == valid


def test_stops_and_route_records_are_one_model():
    assert Stop is Place and issubclass(PlaceRecord, Place)
    for container in (PlannerIn, PackageIn):
        assert container.model_fields["stops"].annotation == list[Place]
    record = PlaceRecord(name="  Bellefield   Church ", lat=40.4, lon=-79.9,
                         attributes={"Phone": "412", "Web": " "}).to_record()
    assert (record.name, record.lat, record.attributes) == ("Bellefield Church", 40.4,
                                                           {"phone": "412"})
    assert Place(name="Gyeongju").to_record().has_coordinates is False


def test_a_lone_coordinate_is_refused_naming_the_stop():
    with pytest.raises(ValidationError) as err:
        PlannerIn.model_validate({"stops": [{"name": "Busan"}, {"name": "Ulsan", "lat": 35.5}]})
    (problem,) = err.value.errors()
    assert problem["loc"] == ("stops", 1) and "both 'lat' and 'lon'" in problem["msg"]
