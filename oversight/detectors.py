"""The detector registry: the one place that lists every automated check behind an advisory flag.

Each entry says which flag kinds it raises, the model (name, version, source, licence), its thresholds (read
from the code that applies them, so a changed threshold changes the documentation), what it was calibrated on,
what it can notice and what it cannot. The technical documentation (Annex IV, Art. 13 of the EU AI Act) is
generated from this table (``oversight.documentation``) and a test keeps the committed copy in step.

Emotion recognition in education is prohibited (Art. 5(1)(f)): each detector declares what it infers, from a
closed vocabulary of observable facts (``OBSERVABLES``); :func:`prohibited_inferences` names any detector that
infers an emotion or an intention, and the test suite fails on it.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
from typing import Any

from idcheck import liveness
from idcheck.facework import BLAZEFACE_MIN_CONFIDENCE
from idcheck.matching import Thresholds
from idcheck.quality import SECOND_FACE_RATIO
from privacy.inventory import T
from proctoring import roomscan, voice
from proctoring.flags import MERGE_GAP
from proctoring.live import NO_FACE_AFTER
from proctoring.models import FlagKind

#: What a detector may infer: observable facts about the picture, the sound or the browser, nothing inside a person.
OBSERVABLES = frozenset({"face_present", "face_count", "face_similarity", "sound_level_pattern", "browser_event",
                         "device_state"})
#: Inferences about a person's inner state: prohibited in education (Art. 5(1)(f)) or not ours to make.
PROHIBITED = frozenset({"emotion", "intention", "attention", "stress", "deception", "credibility", "suspicion",
                        "engagement", "mood"})


#: Each threshold in words (pages never show the parameter's name alone).
THRESHOLD_LABELS: dict[str, T] = {
    "min_detection_confidence": T("Mindestsicherheit eines gefundenen Gesichts", "minimum confidence of a found face"),
    "no_face_after_seconds": T("Sekunden ohne Gesicht bis zum Hinweis", "seconds without a face before the flag"),
    "second_face_area_ratio": T("Mindestgröße eines zweiten Gesichts (Anteil am größten)",
                                "minimum size of a second face (share of the largest)"),
    "no_match_min_distance": T("Abstand der Gesichtsmerkmale, ab dem keine Übereinstimmung gilt",
                               "face feature distance from which it is no match"),
    "match_max_distance": T("Abstand der Gesichtsmerkmale, bis zu dem Übereinstimmung gilt",
                            "face feature distance up to which it is a match"),
    "compare_every_seconds": T("Sekunden zwischen zwei Abgleichen", "seconds between two comparisons"),
    "window_seconds": T("Sekunden anhaltender Sprache", "seconds of sustained speech"),
    "active_dbov": T("Pegel, ab dem ein Abschnitt als laut gilt (-dBov)",
                     "level from which a bin counts as loud (-dBov)"),
    "min_active_share": T("Mindestanteil lauter Abschnitte", "minimum share of loud bins"),
    "min_spread_db": T("Mindestschwankung der Lautstärke (dB)", "minimum spread of loudness (dB)"),
    "challenge_steps": T("Bewegungen je Aufforderungsfolge", "moves per challenge"),
    "step_deadline_ms": T("Frist je Bewegung (ms)", "deadline of each move (ms)"),
    "clear_turn_degrees": T("Drehung, die als deutliche Bewegung gilt (Grad)", "turn that counts as a clear move "
                            "(degrees)"),
    "clear_nod_degrees": T("Nicken, das als deutliche Bewegung gilt (Grad)", "nod that counts as a clear move "
                           "(degrees)"),
    "min_parallax": T("Mindestparallaxe eines Kopfes", "minimum parallax of a head"),
    "min_light_change": T("Mindeständerung des Lichts im Gesicht bei einer Bewegung (gegen in 2D verformte Fotos)",
                          "minimum change of the light on the face in a move (against photos warped in 2D)"),
    "max_faceless_share": T("Höchstanteil an Bildern ohne Gesicht", "maximum share of frames without a face"),
    "room_scan_step_seconds": T("Sekunden je Schritt des Raumscans (Raum / Tisch / Boden / Bildschirmränder)",
                                "seconds per step of the room scan (room / desk / floor / screen edges)"),
    "room_scan_total_seconds": T("Sekunden für den ganzen Raumscan", "seconds for the whole room scan"),
    "room_scan_start_within_seconds": T("Sekunden, in denen ein angeforderter Raumscan beginnen muss",
                                        "seconds within which a requested room scan must begin"),
    "merge_gap_seconds": T("Sekunden, in denen gleiche Ereignisse einen Hinweis verlängern",
                           "seconds within which like events extend one flag"),
}


def package_version(name: str) -> str:
    """The installed version of a Python package (``not installed`` where it is missing)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


#: What is measured of a detector without a test set of its own: people's decisions on its flags.
IN_USE = T("im Betrieb: siehe Seite „KI-Aufsicht“ (Bestätigungsquoten)",
           "in use: see the \u201cAI oversight\u201d page (confirmation rates)")


@dataclasses.dataclass(frozen=True)
class Detector:
    """One automated check: what it flags, the model behind it, its thresholds and its limits."""

    key: str
    name: T
    flag_kinds: tuple[FlagKind, ...]
    high_risk: bool  # Annex III point 3(d) (monitoring during tests); False: biometric verification only
    model: str
    version: str
    source: str
    licence: str
    thresholds: dict[str, Any]
    calibrated_on: T
    notices: T
    cannot_notice: T
    infers: frozenset[str]
    measured: T = IN_USE


def _face_version() -> str:
    return f"mediapipe {package_version('mediapipe')}, dlib {package_version('dlib-bin')}"


DETECTORS: tuple[Detector, ...] = (
    Detector(
        "face_presence", T("Gesicht im Bild", "Face in the picture"), (FlagKind.NO_FACE,), True,
        "BlazeFace short-range (mediapipe), dlib HOG for the thorough upsampled pass", _face_version(),
        "https://github.com/google-ai-edge/mediapipe, http://dlib.net", "Apache-2.0 (mediapipe), BSL-1.0 (dlib)",
        {"min_detection_confidence": BLAZEFACE_MIN_CONFIDENCE, "no_face_after_seconds": NO_FACE_AFTER},
        T("Fotos in tests/data/faces und Laptop-Kameras in 0,4-2 m Abstand",
          "photos in tests/data/faces and laptop cameras at 0.4-2 m"),
        T("dass über mehrere Sekunden kein Gesicht im Kamerabild zu finden ist",
          "that no face can be found in the camera picture for several seconds"),
        T("warum jemand fehlt; Gesichter im Profil, stark verdeckt oder sehr dunkel werden oft nicht gefunden",
          "why someone is away; faces in profile, largely covered or very dark are often missed"),
        frozenset({"face_present"})),
    Detector(
        "face_count", T("Mehrere Gesichter", "Several faces"), (FlagKind.MULTIPLE_FACES,), True,
        "BlazeFace short-range (mediapipe)", _face_version(),
        "https://github.com/google-ai-edge/mediapipe", "Apache-2.0",
        {"min_detection_confidence": BLAZEFACE_MIN_CONFIDENCE, "second_face_area_ratio": SECOND_FACE_RATIO},
        T("Fotos in tests/data/faces (ein und zwei Personen)", "photos in tests/data/faces (one and two people)"),
        T("ein zweites Gesicht, das mindestens ein Drittel so groß ist wie das größte",
          "a second face at least a third as large as the largest"),
        T("Personen außerhalb des Bildes, Gesichter auf Fotos oder Bildschirmen von echten Personen zu unterscheiden",
          "people outside the picture; it cannot tell faces on photos or screens from real people"),
        frozenset({"face_count"})),
    Detector(
        "face_match_live", T("Andere Person", "Another person"), (FlagKind.OTHER_PERSON,), True,
        "dlib ResNet face encoder (face_recognition_models)",
        f"face_recognition_models {package_version('face_recognition_models')}, dlib {package_version('dlib-bin')}",
        "https://github.com/ageitgey/face_recognition_models", "CC0-1.0 (models), BSL-1.0 (dlib)",
        {"no_match_min_distance": Thresholds().no_match_min, "compare_every_seconds": 10},
        T("tests/data/faces: dieselbe Person 0,06-0,45, verschiedene Personen 0,70-0,87",
          "tests/data/faces: same person 0.06-0.45, different people 0.70-0.87"),
        T("dass das Gesicht vor der Kamera dem geprüften Ausweisfoto deutlich unähnlich ist",
          "that the face at the camera is clearly unlike the verified ID photo"),
        T("Lebendigkeit (Fotos, Masken, virtuelle Kameras); für manche Gruppen sind solche Modelle ungenauer "
          "(NISTIR 8280)", "liveness (photos, masks, virtual cameras); such models are less accurate for some "
          "groups (NISTIR 8280)"),
        frozenset({"face_similarity"}),
        T("Testbilder: dieselbe Person 0,06-0,45, verschiedene Personen 0,70-0,87 (keine Fehlzuordnung); im Betrieb: "
          "Bestätigungsquote auf der Seite „KI-Aufsicht“", "test photos: same person 0.06-0.45, different people "
          "0.70-0.87 (no false match); in use: confirmation rate on the \u201cAI oversight\u201d page")),
    Detector(
        "voice", T("Sprache", "Speech"), (FlagKind.VOICE,), True,
        "rule on RFC 6464 audio levels (no model, audio never decoded)", "aufsicht proctoring/voice.py",
        "aufsicht", "AGPL-3.0 (aufsicht)",
        {"window_seconds": voice.WINDOW_S, "active_dbov": voice.ACTIVE_DBOV,
         "min_active_share": voice.MIN_ACTIVE_SHARE, "min_spread_db": voice.MIN_SPREAD_DB},
        T("synthetische Pegelverläufe (Sprache, Lüfter, Stille) in tests/proctoring",
          "synthetic level traces (speech, fan, silence) in tests/proctoring"),
        T("anhaltende, schwankende Lautstärke wie beim Sprechen", "sustained, fluctuating loudness as in speech"),
        T("was gesagt wird, wer spricht, ob es ein Radio ist", "what is said, who speaks, whether it is a radio"),
        frozenset({"sound_level_pattern"})),
    Detector(
        "browser_signals", T("Signale des Browsers", "Browser signals"),
        (FlagKind.TAB_HIDDEN, FlagKind.FULLSCREEN_EXIT, FlagKind.COPY_PASTE, FlagKind.SECOND_SCREEN,
         FlagKind.MEDIA_LOST, FlagKind.SCREEN_STOPPED, FlagKind.SEB_KEY_MISSING), True,
        "browser events (no model)", "aufsicht app/static", "aufsicht", "AGPL-3.0 (aufsicht)",
        {"merge_gap_seconds": MERGE_GAP.total_seconds()},
        T("Chromium und Firefox in den Browsertests", "Chromium and Firefox in the browser tests"),
        T("Tab verlassen, Vollbild verlassen, Kopieren/Einfügen, zweiter Bildschirm, Gerät oder Bildschirmfreigabe "
          "verloren, eine Anfrage ohne gültigen Safe-Exam-Browser-Schlüssel",
          "leaving the tab or fullscreen, copy/paste, a second screen, a lost device or screen share, a request "
          "without a valid Safe Exam Browser key"),
        T("warum es geschah (ein Absturz, eine Benachrichtigung, ein Versehen)",
          "why it happened (a crash, a notification, a slip)"),
        frozenset({"browser_event", "device_state"})),
    Detector(
        "room_scan", T("Frist des Raumscans", "Time limit of the room scan"), (FlagKind.ROOM_SCAN_INCOMPLETE,), True,
        "rule on the server's clock (no model, no picture analysed)", "aufsicht proctoring/roomscan.py", "aufsicht",
        "AGPL-3.0 (aufsicht)",
        {"room_scan_step_seconds": " / ".join(str(s.seconds) for s in roomscan.STEPS),
         "room_scan_total_seconds": roomscan.TOTAL_SECONDS,
         "room_scan_start_within_seconds": roomscan.START_WITHIN_SECONDS},
        T("nicht kalibriert: die Fristen sind von Hand gesetzt (etwa drei Minuten für die vier Schritte); mit echten "
          "Kandidatinnen und Kandidaten nicht gemessen", "not calibrated: the limits are set by hand (about three "
          "minutes for the four steps); not measured with real candidates"),
        T("dass ein Raumscan (vor dem Start oder auf Bitte der Aufsicht) nicht in der Frist abgeschlossen oder eine "
          "Bitte nicht rechtzeitig begonnen wurde", "that a room scan (before the start or asked for by a proctor) "
          "was not completed in time, or a request was not begun in time"),
        T("was im Raum zu sehen ist: das beurteilt eine Person in der Aufnahme; warum es länger dauerte (Technik, "
          "eine Behinderung)", "what the room shows: a person judges that in the recording; why it took longer "
          "(technology, a disability)"),
        frozenset({"browser_event"})),
    Detector(
        "phone_camera", T("Zweite Kamera (Handy)", "Second camera (phone)"), (FlagKind.PHONE_LOST,), True,
        "the media engine's connection state and the phone page's camera event (no model)",
        "aufsicht proctoring/phone.py", "aufsicht", "AGPL-3.0 (aufsicht)",
        {"merge_gap_seconds": MERGE_GAP.total_seconds()},
        T("Chromium mit Handy-Emulation und künstlicher Kamera in den Browsertests",
          "Chromium with mobile emulation and a fake camera in the browser tests"),
        T("dass das als zweite Kamera gekoppelte Handy während der Prüfung kein Bild mehr sendet (Verbindung "
          "beendet oder Kamera gestoppt)", "that the phone paired as the second camera stops sending its picture "
          "during the exam (connection ended or camera stopped)"),
        T("was das Handy zeigt, warum es aufhörte (Akku, Netz, ein Anruf), ob es richtig aufgestellt ist",
          "what the phone shows, why it stopped (battery, network, a call), whether it is placed as asked"),
        frozenset({"device_state"})),
    Detector(
        "face_match_idcheck", T("Gesichtsabgleich bei der Identitätsprüfung", "Face match at the identity check"),
        (), False,
        "dlib ResNet face encoder (face_recognition_models)",
        f"face_recognition_models {package_version('face_recognition_models')}, dlib {package_version('dlib-bin')}",
        "https://github.com/ageitgey/face_recognition_models", "CC0-1.0 (models), BSL-1.0 (dlib)",
        {"match_max_distance": Thresholds().match_max, "no_match_min_distance": Thresholds().no_match_min},
        T("tests/data/faces: dieselbe Person 0,06-0,45, verschiedene Personen 0,70-0,87",
          "tests/data/faces: same person 0.06-0.45, different people 0.70-0.87"),
        T("ob das Selfie dem Ausweisfoto ähnlich ist (eine Empfehlung; Zweifel gehen an eine Person)",
          "whether the selfie resembles the ID photo (a recommendation; doubts go to a person)"),
        T("ob der Ausweis echt ist; für manche Gruppen sind solche Modelle ungenauer (NISTIR 8280)",
          "whether the document is genuine; such models are less accurate for some groups (NISTIR 8280)"),
        frozenset({"face_similarity"}),
        T("Testbilder: dieselbe Person 0,06-0,45, verschiedene Personen 0,70-0,87 (keine Fehlzuordnung)",
          "test photos: same person 0.06-0.45, different people 0.70-0.87 (no false match)")),
    Detector(
        "liveness", T("Lebendprüfung bei der Identitätsprüfung", "Liveness check at the identity check"), (), False,
        "mediapipe face mesh (468 landmarks), head pose and parallax against a random challenge of moves",
        f"mediapipe {package_version('mediapipe')}", "https://github.com/google-ai-edge/mediapipe", "Apache-2.0",
        {"challenge_steps": liveness.STEPS, "step_deadline_ms": liveness.STEP_MS,
         "clear_turn_degrees": liveness.CLEAR_DEG["yaw"], "clear_nod_degrees": liveness.CLEAR_DEG["pitch"],
         "min_parallax": liveness.MIN_PARALLAX, "max_faceless_share": liveness.MAX_FACELESS,
         "min_light_change": liveness.MIN_LIGHT_CHANGE},
        T("die Fälschungssammlung bench/spoofs.py (Fotos, gekippte, gedrehte und gebogene Fotos, in 2D verformte "
          "Fotos, falsche Bewegungen) und 3D-Vergleichsköpfe unter einer festen Lampe",
          "the spoof set bench/spoofs.py (photos, tilted, turned and bent photos, photos warped in 2D, wrong moves) "
          "and 3D stand-in heads under a fixed lamp"),
        T("ob ein lebender Kopf einer zufälligen Folge von Bewegungen rechtzeitig folgt",
          "whether a live head follows a random sequence of moves in time"),
        T("Echtzeit-Deepfakes oder 3D-Darstellungen, die den Aufforderungen folgen; Masken in Personengestalt; "
          "eine 2D-Verformung, die auch das Licht verändert; ein echter Kopf in völlig gleichmäßigem Licht geht an "
          "eine Person; Zweifel gehen an eine Person", "real-time deepfakes or 3D renderings that follow the prompts; "
          "person-shaped masks; a 2D warp that also animates the light; a real head in perfectly even light goes to a "
          "person; doubts go to a person"),
        frozenset({"face_present", "face_similarity"}),
        T("Fälschungssammlung: 0 Fälschungen angenommen, die echte Vergleichsaufnahme bestanden",
          "spoof set: 0 spoofs accepted, the genuine stand-in passed")),
)


def detector_for(kind: FlagKind | str) -> Detector:
    """The detector that raises flags of ``kind`` (KeyError for a kind no detector documents)."""
    for d in DETECTORS:
        if FlagKind(kind) in d.flag_kinds:
            return d
    raise KeyError(kind)


def prohibited_inferences(detectors: tuple[Detector, ...] = DETECTORS) -> dict[str, set[str]]:
    """Detector key -> what it infers beyond the observable facts (an emotion, an intention...): must be empty."""
    return {d.key: set(d.infers - OBSERVABLES) | set(d.infers & PROHIBITED)
            for d in detectors if (d.infers - OBSERVABLES) or (d.infers & PROHIBITED)}
