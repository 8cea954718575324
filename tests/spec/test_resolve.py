from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from renderer.errors import SpecError
from renderer.spec.resolve import load_project
from tests.helpers import write


def project_of(tmp_path: Path, text: str):
    return load_project(write(tmp_path / "p.yaml", text), "p.yaml")


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        project_of(tmp_path, text)
    return [str(p) for p in info.value.problems]


def test_defaults_vars_and_type_defaults(tmp_path: Path) -> None:
    project = project_of(
        tmp_path,
        """
        version: 1
        vars: {style: noir}
        defaults: {seed: 9, video: {duration: 4, fps: 12}}
        assets:
          a: {type: image, prompt: "a ${vars.style} street, $$5"}
          v: {type: video, prompt: "${asset}", inputs: [a], fps: 30}
    """,
    )
    a, v = project.assets["a"], project.assets["v"]
    assert a.params["prompt"] == "a noir street, $5" and a.seed == 9
    assert v.params == {"prompt": "v", "duration": 4, "fps": 30}
    assert v.depends_on() == ["a"] and v.output == "v.mp4" and a.output == "a.png"
    assert a.provider == "local"


def test_matrix_makes_named_variants(tmp_path: Path) -> None:
    project = project_of(
        tmp_path,
        """
        version: 1
        assets:
          hero:
            type: image
            prompt: "hero ${matrix.look}"
            matrix: {aspect_ratio: ["16:9", "9:16"], look: [Dark Night]}
          clip:
            type: video
            matrix: {aspect_ratio: ["16:9", "9:16"]}
            inputs: ["hero-${matrix.aspect_ratio}-dark-night"]
    """,
    )
    assert list(project.assets) == ["hero-16x9-dark-night", "hero-9x16-dark-night", "clip-16x9", "clip-9x16"]
    assert project.assets["hero-9x16-dark-night"].params["aspect_ratio"] == "9:16"
    assert project.assets["hero-9x16-dark-night"].params["prompt"] == "hero Dark Night"
    assert project.assets["clip-9x16"].depends_on() == ["hero-9x16-dark-night"]


def test_matrix_values_that_collide_are_an_error(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        """
        version: 1
        assets:
          hero: {type: image, prompt: x, matrix: {look: ["a b", "a-b"]}}
    """,
    )
    assert found and "both make the name 'hero-a-b'" in found[0]


def test_inputs_files_and_assets(tmp_path: Path) -> None:
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "theme.wav").write_bytes(b"RIFF")
    project = project_of(
        tmp_path,
        """
        version: 1
        assets:
          score: {type: music, prompt: x, inputs: {ref_audio: refs/theme.wav}}
          v: {type: video, inputs: [{file: refs/theme.wav}]}
          f: {type: compose, clips: [v, {asset: v, from: 1, to: 2}], audio: score}
    """,
    )
    assert [(r.slot, r.kind, r.target) for r in project.assets["score"].inputs] == [
        ("ref_audio", "file", "refs/theme.wav")
    ]
    f = project.assets["f"]
    assert [(r.slot, r.kind, r.target) for r in f.inputs] == [
        ("clips.0", "asset", "v"),
        ("clips.1", "asset", "v"),
        ("audio", "asset", "score"),
    ]
    assert f.params["clips"] == [{}, {"from": 1, "to": 2}]


def test_reference_problems_name_what_exists(tmp_path: Path) -> None:
    (tmp_path / "inside.png").write_bytes(b"x")
    (tmp_path.parent / "outside.png").write_bytes(b"x")
    found = problems_of(
        tmp_path,
        """
        version: 1
        assets:
          a: {type: image, prompt: x, inputs: [ghost]}
          b: {type: image, prompt: x, inputs: [missing/file.png]}
          c: {type: image, prompt: x, inputs: [../outside.png]}
          d: {type: image, prompt: x, inputs: [d]}
          e: {type: image, prompt: x, inputs: [/etc/passwd.png]}
          f: {type: compose, clips: [{asset: nope}]}
    """,
    )
    text = "\n".join(found)
    assert "p.yaml:3:40: asset 'a': unknown asset 'ghost' (assets: a, b, c, d, e, f)" in text
    assert "asset 'b': input file 'missing/file.png' does not exist" in text
    assert "asset 'c': input '../outside.png' is outside the project directory" in text
    assert "asset 'd' needs itself as an input" in text
    assert "asset 'e': input '/etc/passwd.png' is an absolute path" in text
    assert "asset 'f': unknown asset 'nope'" in text


def test_output_names_are_checked(tmp_path: Path) -> None:
    found = "\n".join(
        problems_of(
            tmp_path,
            """
        version: 1
        assets:
          a: {type: image, prompt: x, output: ../../a.png}
          b: {type: image, prompt: x, output: /tmp/b.png}
          c: {type: image, prompt: x, output: same.png}
          d: {type: image, prompt: x, output: SAME.png}
          e: {type: image, prompt: x, output: con.png}
          f: {type: image, prompt: x, output: noext}
    """,
        )
    )
    assert "output '../../a.png' would leave the output directory" in found
    assert "output '/tmp/b.png' is an absolute path" in found
    assert "assets 'c' and 'd' both write 'SAME.png'" in found
    assert "reserved device name" in found
    assert "has no file extension" in found


def test_unknown_provider_and_local_refusals(tmp_path: Path) -> None:
    found = "\n".join(
        problems_of(
            tmp_path,
            """
        version: 1
        assets:
          a: {type: image, prompt: x, provider: lokal}
    """,
        )
    )
    assert "unknown provider 'lokal'; did you mean 'local'?" in found
    found = "\n".join(
        problems_of(
            tmp_path,
            """
        version: 1
        assets:
          v: {type: video, prompt: x}
          s: {type: lipsync, inputs: {video: v, audio: v}}
          u: {type: upscale, inputs: [v]}
    """,
        )
    )
    assert "asset 's': the local provider cannot lipsync" in found
    assert "asset 'u': upscale needs 'scale'" in found


def test_upscale_output_follows_its_source(tmp_path: Path) -> None:
    project = project_of(
        tmp_path,
        """
        version: 1
        assets:
          v: {type: video, prompt: x}
          u: {type: upscale, inputs: [v], scale: 2}
    """,
    )
    assert project.assets["u"].output == "u.mp4"


def test_a_fifo_input_says_what_it_is(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "pipe.wav")
    spec = write(tmp_path / "p.yaml", "version: 1\nassets:\n  up: {type: upscale, inputs: [pipe.wav]}\n")
    with pytest.raises(SpecError) as info:
        load_project(spec, "p.yaml")
    assert "is a named pipe (FIFO), not a file" in str(info.value) and "does not exist" not in str(info.value)


@given(st.text(alphabet="ab./XP", max_size=8))
def test_an_output_format_is_what_the_path_suffix_says(written: str) -> None:
    from pathlib import PurePosixPath

    from renderer.spec.model import Asset

    output = PurePosixPath(written).as_posix()  # as resolve leaves every output
    asset = Asset(name="a", type="image", provider="local", model=None, seed=None, params={}, inputs=[], output=output)
    assert asset.output_format == PurePosixPath(output).suffix.lower()
