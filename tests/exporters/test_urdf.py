"""URDF export (`lyra_sim.exporters.urdf`): load in PyBullet and drop a sphere."""

import xml.etree.ElementTree as ET

import pytest

from _scenes import ROOM, box_room_bundle
from lyra_sim.exporters.mjcf import SceneGeometry
from lyra_sim.exporters.urdf import urdf_tree

pybullet = pytest.importorskip("pybullet")


@pytest.fixture
def client():
    cid = pybullet.connect(pybullet.DIRECT)
    yield cid
    pybullet.disconnect(cid)


def test_scene_loads_and_a_sphere_lands_on_the_floor(client):
    bundle = box_room_bundle()
    scene = pybullet.loadURDF(str(bundle / "scene.urdf"), useFixedBase=True, physicsClientId=client)
    shapes = pybullet.getCollisionShapeData(scene, -1, physicsClientId=client)
    assert len(shapes) > 10
    pybullet.setGravity(0, 0, -9.81, physicsClientId=client)
    radius = 0.08
    ball = pybullet.createMultiBody(
        0.5, pybullet.createCollisionShape(pybullet.GEOM_SPHERE, radius=radius, physicsClientId=client),
        basePosition=[1.5, 1.9, 1.2], physicsClientId=client,
    )
    for _ in range(480):
        pybullet.stepSimulation(physicsClientId=client)
    (x, y, z), _ = pybullet.getBasePositionAndOrientation(ball, physicsClientId=client)
    assert 0 < x < ROOM[0] and 0 < y < ROOM[1]
    assert z == pytest.approx(radius, abs=0.03)


def test_objects_become_fixed_links():
    root = urdf_tree(SceneGeometry(["a.stl"], {"chair_0": ["b.stl", "c.stl"]}, "v.obj")).getroot()
    links = {link.get("name"): link for link in root.findall("link")}
    assert set(links) == {"scene", "chair_0"}
    assert len(links["chair_0"].findall("collision")) == 2
    assert links["scene"].find("inertial/mass").get("value") == "0"
    joint = root.find("joint")
    assert joint.get("type") == "fixed" and joint.find("child").get("link") == "chair_0"
    assert ET.tostring(root).count(b"<visual>") == 1
