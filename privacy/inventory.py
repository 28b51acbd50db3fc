"""The one data inventory: every personal data item we hold, why, on what legal basis, who sees it, how long.

Every column of every table is listed here, either as a personal data item (``fields``) or as
technical (keys, states, internal numbers), and every storage category has an entry: the
completeness test fails otherwise. This table drives the privacy notice (German and English),
the data export (what goes in it), the erasure (delete, anonymise or keep with a reason) and
the age-based retention of rows (``purge_aged_rows``). Retention of stored files is declared in
``storage.retention.RULES``, which the notice and export quote from here.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from flask_babel import get_locale

from storage.retention import RULES


@dataclasses.dataclass(frozen=True)
class T:
    """A text in German and English, so the notice can never lag behind the code."""

    de: str
    en: str

    def __str__(self) -> str:
        return self.de if str(get_locale() or "de") == "de" else self.en


class Erase(enum.StrEnum):
    """What erasure of an account does with a table's rows of the person."""

    DELETE = "delete"
    ANONYMISE = "anonymise"
    KEEP = "keep"


@dataclasses.dataclass(frozen=True)
class Item:
    """One personal data item."""

    what: T
    purpose: T
    basis: T
    seen_by: tuple[str, ...]
    anonymised: Any = None  # the value erasure writes where the table is anonymised


@dataclasses.dataclass(frozen=True)
class Record:
    """A table and how its rows belong to a person."""

    table: str
    owner: str  # "id" (the user row), a column holding the user id, or "attempt" (via attempt_id)
    fields: dict[str, Item]
    technical: tuple[str, ...]
    retention: T
    erase: Erase
    keep_reason: T | None = None
    keep_years: int = 0  # how long kept rows stay after erasure (0: as long as the retention says)
    secret: tuple[str, ...] = ()  # never exported (security): listed, but not handed out
    age_days_config: str | None = None  # rows older than this config value (days) are deleted by a job
    age_column: str | None = None


@dataclasses.dataclass(frozen=True)
class StoredFiles:
    """A storage category: files we hold, encrypted, about a person."""

    category: str
    item: Item
    retention_de: str  # German wording of the rule; the rule itself (and its English text) is storage's

    @property
    def retention(self) -> T:
        """The rule from the one table of storage rules."""
        return T(self.retention_de, RULES[self.category].description)


CANDIDATE, PROCTOR, STAFF, ADMIN = "candidate", "proctor", "staff", "admin"
ALL_STAFF = (PROCTOR, STAFF)
CONTRACT = T("Art. 6 Abs. 1 lit. b DSGVO (Vertrag: Durchführung der Prüfung)",
             "Art. 6(1)(b) GDPR (contract: running the exam)")
LEGAL_DUTY = T("Art. 6 Abs. 1 lit. c DSGVO (rechtliche Pflicht)", "Art. 6(1)(c) GDPR (legal obligation)")
INTEREST = T("Art. 6 Abs. 1 lit. f DSGVO (berechtigtes Interesse: faire und sichere Prüfung)",
             "Art. 6(1)(f) GDPR (legitimate interest: a fair and secure exam)")
CONSENT_9 = T("Art. 9 Abs. 2 lit. a DSGVO (ausdrückliche Einwilligung in biometrische Verarbeitung)",
              "Art. 9(2)(a) GDPR (explicit consent to biometric processing)")
ACCOUNT = T("bis das Konto gelöscht wird (auf Wunsch jederzeit; nach 2 Jahren ohne Anmeldung automatisch)",
            "until the account is deleted (at your request at any time; automatically after 2 years without login)")
WITH_ATTEMPT = T("mit dem Prüfungsversuch, bis das Konto gelöscht wird", "with the exam attempt, until the account "
                 "is deleted")
RESULTS = T("Ergebnisse bleiben 10 Jahre nach der Prüfung (Aufbewahrungspflicht der Prüfungsstelle)",
            "results are kept 10 years after the exam (the exam provider's duty to keep records)")
ID_CHECK = T("bis das Konto gelöscht wird; die Fotos selbst nur bis zur Entscheidung",
             "until the account is deleted; the photos themselves only until the decision")


def _i(what_de: str, what_en: str, purpose: T, basis: T = CONTRACT, seen_by: tuple[str, ...] = (CANDIDATE, STAFF),
       anonymised: Any = None) -> Item:
    return Item(T(what_de, what_en), purpose, basis, seen_by, anonymised)


P_ACCOUNT = T("Konto, Anmeldung und Kontakt", "account, login and contact")
P_EXAM = T("Zulassung und Durchführung der Prüfung, Ausstellung des Zertifikats",
           "admission to and running of the exam, issuing the certificate")
P_IDENT = T("Feststellung der Identität vor der Prüfung", "establishing your identity before the exam")
P_SUPERVISE = T("Aufsicht der Prüfung und Prüfung von Hinweisen durch Menschen",
                "supervising the exam and human review of flags")
P_APPEAL = T("Bearbeitung Ihres Widerspruchs", "handling your appeal")
P_SECURITY = T("Sicherheit der Anmeldung (Missbrauch erkennen)", "login security (detecting misuse)")
P_AI_LOG = T("Protokoll der automatischen Hinweise (KI-Verordnung Art. 12, 19, 26 Abs. 6), ohne Bild",
             "log of the automated flags (EU AI Act Art. 12, 19, 26(6)), without any image")
P_RESULTS_OUT = T("Mitteilung Ihres Ergebnisses, Zertifikats oder Widerspruchsbescheids an die Systeme der "
                  "Prüfungsstelle (Webhook)", "telling the exam provider's own systems of your result, certificate or "
                  "appeal decision (webhook)")
P_ACCOUNTABILITY = T("Rechenschaft über Zugriffe, Einwilligungen und Löschungen",
                     "accountability for access, consents and deletions")

RECORDS: list[Record] = [
    Record("user", "id", {
        "email": _i("E-Mail-Adresse", "email address", P_ACCOUNT, anonymised="{id}@erased.invalid"),
        "display_name": _i("Anzeigename", "display name", P_ACCOUNT, seen_by=(CANDIDATE, PROCTOR, STAFF),
                           anonymised="—"),
        "password_hash": _i("Passwort (nur als Hash)", "password (hash only)", P_ACCOUNT, seen_by=(),
                            anonymised="!erased"),
        "last_active_at": _i("letzte Anmeldung", "last login", P_ACCOUNT, seen_by=(ADMIN,)),
        "restricted_at": _i("Einschränkung der Verarbeitung (Art. 18)", "restriction of processing (Art. 18)",
                            P_ACCOUNT, LEGAL_DUTY),
        "inactivity_notice_at": _i("Hinweis vor Löschung wegen Inaktivität", "notice before deletion for "
                                   "inactivity", P_ACCOUNT, LEGAL_DUTY, seen_by=(ADMIN,)),
        "email_verified_at": _i("Bestätigung der E-Mail-Adresse", "confirmation of the email address", P_ACCOUNT,
                                seen_by=(ADMIN,)),
        "totp_secret": _i("Schlüssel des zweiten Faktors (Authenticator-App)", "second-factor key (authenticator "
                          "app)", P_SECURITY, INTEREST, seen_by=()),
        "totp_last_step": _i("Zeitpunkt des zuletzt verwendeten Codes", "time of the last code used", P_SECURITY,
                             INTEREST, seen_by=()),
        "recovery_codes": _i("Wiederherstellungscodes (nur als Hash)", "recovery codes (hash only)", P_SECURITY,
                             INTEREST, seen_by=()),
        "language": _i("Sprache der Oberfläche und der E-Mails", "language of the pages and emails", P_ACCOUNT,
                       seen_by=(ADMIN,)),
    }, ("id", "role", "institution_id", "session_version", "active", "created_at", "erased_at"), ACCOUNT,
        Erase.ANONYMISE, secret=("password_hash", "totp_secret", "totp_last_step", "recovery_codes")),
    Record("candidate_profile", "user_id", {
        "salutation": _i("Anrede", "salutation", P_EXAM),
        "first_name": _i("Vorname", "first name", P_EXAM),
        "last_name": _i("Nachname", "last name", P_EXAM),
        "street": _i("Straße und Hausnummer", "street and number", P_EXAM),
        "postal_code": _i("Postleitzahl", "postal code", P_EXAM),
        "city": _i("Ort", "city", P_EXAM),
        "country": _i("Land", "country", P_EXAM),
        "phone": _i("Telefonnummer", "phone number", P_EXAM),
        "date_of_birth": _i("Geburtsdatum", "date of birth", P_EXAM),
        "place_of_birth": _i("Geburtsort", "place of birth", P_EXAM),
        "gender": _i("Geschlecht (freiwillig)", "gender (optional)", P_EXAM),
        "id_document_number": _i("Ausweisnummer", "ID document number", P_IDENT),
    }, ("user_id",), ACCOUNT, Erase.DELETE),
    Record("profile_change", "user_id", {
        "field": _i("geändertes Feld", "changed field", P_ACCOUNTABILITY, LEGAL_DUTY),
        "old_value": _i("alter Wert", "old value", P_ACCOUNTABILITY, LEGAL_DUTY),
        "new_value": _i("neuer Wert", "new value", P_ACCOUNTABILITY, LEGAL_DUTY),
        "at": _i("Zeitpunkt der Änderung", "time of the change", P_ACCOUNTABILITY, LEGAL_DUTY),
        "status": _i("Stand der Änderung (beantragt, genehmigt, abgelehnt)", "state of the change (requested, "
                     "approved, refused)", P_ACCOUNTABILITY, LEGAL_DUTY),
        "decided_at": _i("entschieden am", "decided at", P_ACCOUNTABILITY, LEGAL_DUTY),
    }, ("id", "user_id", "changed_by_id", "decided_by_id"), ACCOUNT, Erase.DELETE),
    Record("consent_record", "user_id", {
        "kind": _i("Art der Einwilligung", "kind of consent", P_ACCOUNTABILITY, LEGAL_DUTY),
        "granted": _i("erteilt oder widerrufen", "given or withdrawn", P_ACCOUNTABILITY, LEGAL_DUTY),
        "version": _i("Version der Datenschutzhinweise", "privacy notice version", P_ACCOUNTABILITY, LEGAL_DUTY),
        "at": _i("Zeitpunkt", "time", P_ACCOUNTABILITY, LEGAL_DUTY),
    }, ("id", "user_id"), ACCOUNT, Erase.DELETE),
    Record("login_event", "user_id", {
        "email": _i("bei der Anmeldung eingegebene E-Mail", "email entered at login", P_SECURITY, INTEREST,
                    seen_by=(CANDIDATE, ADMIN)),
        "ip": _i("IP-Adresse", "IP address", P_SECURITY, INTEREST, seen_by=(CANDIDATE, ADMIN)),
        "success": _i("Anmeldung erfolgreich", "login succeeded", P_SECURITY, INTEREST, seen_by=(CANDIDATE, ADMIN)),
        "detail": _i("Grund eines Fehlschlags", "reason of a failure", P_SECURITY, INTEREST,
                     seen_by=(CANDIDATE, ADMIN)),
        "at": _i("Zeitpunkt", "time", P_SECURITY, INTEREST, seen_by=(CANDIDATE, ADMIN)),
        "provider": _i("Anmeldedienst der Institution (OpenID), falls darüber angemeldet",
                       "the institution's sign-in provider (OpenID), if signed in through it", P_SECURITY, INTEREST,
                       seen_by=(CANDIDATE, ADMIN)),
    }, ("id", "user_id"), T("7 Tage", "7 days"), Erase.DELETE, age_days_config="LOGIN_AUDIT_RETENTION_DAYS",
        age_column="at"),
    Record("account_action", "user_id", {
        "action": _i("Maßnahme der Plattform-Administration an Ihrem Konto (gesperrt, entsperrt, zweiter Faktor "
                     "zurückgesetzt, Rolle geändert)", "what the platform administration did to your account (locked, "
                     "unlocked, second factor reset, role changed)", P_SECURITY, INTEREST, seen_by=(CANDIDATE, ADMIN)),
        "detail": _i("Einzelheit der Maßnahme (etwa die neue Rolle)", "detail of the action (such as the new role)",
                     P_SECURITY, INTEREST, seen_by=(CANDIDATE, ADMIN)),
        "at": _i("Zeitpunkt", "time", P_SECURITY, INTEREST, seen_by=(CANDIDATE, ADMIN)),
    }, ("id", "user_id", "actor_id"), ACCOUNT, Erase.DELETE),
    Record("oidc_identity", "user_id", {
        "subject": _i("Kennung bei Ihrem Anmeldedienst (OpenID „sub“)", "your identifier at the sign-in provider "
                      "(OpenID \"sub\")", P_ACCOUNT, seen_by=(CANDIDATE, ADMIN)),
        "email_verified": _i("vom Anmeldedienst bestätigte E-Mail-Adresse", "email address confirmed by the sign-in "
                             "provider", P_ACCOUNT, seen_by=(CANDIDATE, ADMIN)),
        "created_at": _i("Konto mit dem Anmeldedienst verbunden am", "account linked to the sign-in provider at",
                         P_ACCOUNT, seen_by=(CANDIDATE, ADMIN)),
        "last_login_at": _i("letzte Anmeldung über den Anmeldedienst", "last sign-in through the provider",
                            P_ACCOUNT, seen_by=(CANDIDATE, ADMIN)),
        "sign_ins": _i("Zahl der Anmeldungen über den Anmeldedienst", "number of sign-ins through the provider",
                       P_ACCOUNT, seen_by=(CANDIDATE, ADMIN)),
    }, ("id", "provider_id", "user_id"), ACCOUNT, Erase.DELETE),
    Record("saml_identity", "user_id", {
        "subject": _i("Kennung bei Ihrer Heimateinrichtung (SAML, etwa eduPersonPrincipalName oder subject-id)",
                      "your identifier at your home organisation (SAML, such as eduPersonPrincipalName or subject-id)",
                      P_ACCOUNT, seen_by=(CANDIDATE, ADMIN)),
        "created_at": _i("Konto mit der Heimateinrichtung verbunden am", "account linked to the home organisation at",
                         P_ACCOUNT, seen_by=(CANDIDATE, ADMIN)),
        "last_login_at": _i("letzte Anmeldung über die Heimateinrichtung", "last sign-in through the home organisation",
                            P_ACCOUNT, seen_by=(CANDIDATE, ADMIN)),
        "sign_ins": _i("Zahl der Anmeldungen über die Heimateinrichtung", "number of sign-ins through the home "
                       "organisation", P_ACCOUNT, seen_by=(CANDIDATE, ADMIN)),
    }, ("id", "provider_id", "user_id"), ACCOUNT, Erase.DELETE),
    Record("saml_session", "user_id", {
        "issuer": _i("Heimateinrichtung, über die Sie sich angemeldet haben (ihre Kennung)", "the home organisation "
                     "you signed in through (its identifier)", P_SECURITY, CONTRACT, seen_by=(CANDIDATE, ADMIN)),
        "name_id": _i("Kennung dieser Anmeldung bei der Heimateinrichtung (für die gemeinsame Abmeldung)",
                      "this sign-in's identifier at the home organisation (for the single logout)", P_SECURITY,
                      CONTRACT, seen_by=(CANDIDATE, ADMIN)),
        "session_index": _i("Sitzungskennung der Heimateinrichtung", "the home organisation's session identifier",
                            P_SECURITY, CONTRACT, seen_by=(CANDIDATE, ADMIN)),
        "created_at": _i("Anmeldung am", "signed in at", P_SECURITY, CONTRACT, seen_by=(CANDIDATE, ADMIN)),
        "ended_at": _i("von der Heimateinrichtung abgemeldet am", "signed out by the home organisation at",
                       P_SECURITY, CONTRACT, seen_by=(CANDIDATE, ADMIN)),
    }, ("id", "provider_id", "user_id"), T("31 Tage", "31 days"), Erase.DELETE),
    Record("lti_identity", "user_id", {
        "subject": _i("Kennung bei Ihrer Lernplattform (LTI „sub“)", "your identifier at the learning platform "
                      "(LTI \"sub\")", P_ACCOUNT, seen_by=(CANDIDATE, ADMIN)),
        "created_at": _i("Konto mit der Lernplattform verbunden am", "account linked to the learning platform at",
                         P_ACCOUNT, seen_by=(CANDIDATE, ADMIN)),
        "last_launch_at": _i("letzter Start aus der Lernplattform", "last launch from the learning platform",
                             P_ACCOUNT, seen_by=(CANDIDATE, ADMIN)),
    }, ("id", "platform_id", "user_id"), ACCOUNT, Erase.DELETE),
    Record("lti_enrolment", "user_id", {
        "subject": _i("Kennung bei der Lernplattform, unter der Ihr Ergebnis übertragen wird", "your identifier at "
                      "the learning platform your result is sent under", P_EXAM),
        "source": _i("angemeldet durch Start oder Teilnehmerliste des Kurses", "enrolled by a launch or the "
                     "course roster", P_EXAM),
        "created_at": _i("angemeldet am", "enrolled at", P_EXAM),
        "score_sent_at": _i("Ergebnis an die Lernplattform übertragen am", "result sent to the learning platform at",
                            P_EXAM),
        "score_sent_percent": _i("an die Lernplattform übertragenes Ergebnis (Prozent)", "result sent to the "
                                 "learning platform (percent)", P_EXAM),
    }, ("id", "link_id", "user_id"), ACCOUNT, Erase.DELETE),
    Record("lti_proctoring", "user_id", {
        "attempt_number": _i("Versuch auf der Lernplattform", "attempt at the learning platform",
                             P_SUPERVISE, seen_by=(CANDIDATE, PROCTOR, STAFF)),
        "status": _i("Stand der Aufsicht", "state of the supervision", P_SUPERVISE,
                     seen_by=(CANDIDATE, PROCTOR, STAFF)),
        "started_at": _i("Aufsicht angefragt am", "supervision requested at", P_SUPERVISE,
                         seen_by=(CANDIDATE, PROCTOR, STAFF)),
        "assessment_started_at": _i("Prüfung auf der Plattform begonnen am", "assessment at the platform started at",
                                    P_SUPERVISE, seen_by=(CANDIDATE, PROCTOR, STAFF)),
        "ended_at": _i("Aufsicht beendet am", "supervision ended at", P_SUPERVISE,
                       seen_by=(CANDIDATE, PROCTOR, STAFF)),
        "last_control": _i("letzte Aktion der Aufsicht an die Plattform (z. B. Pause, zusätzliche Zeit)",
                           "the proctor's last action sent to the platform (e.g. pause, extra time)", P_SUPERVISE,
                           INTEREST, seen_by=(CANDIDATE, PROCTOR, STAFF)),
        "verdict": _i("Abbruch oder abgelehnte Identität, die die Plattform noch erfährt (mit der Ergebnisübertragung)",
                      "a termination or rejected identity the platform still has to learn (with the grade passback)",
                      P_SUPERVISE, INTEREST, seen_by=(CANDIDATE, PROCTOR, STAFF)),
    }, ("id", "link_id", "user_id", "session_data", "start_assessment_url", "acs_url", "acs_actions", "attempt_id"),
        WITH_ATTEMPT,
        Erase.DELETE),
    Record("attempt", "user_id", {
        "started_at": _i("Beginn des Versuchs", "start of the attempt", P_EXAM, seen_by=(CANDIDATE, PROCTOR, STAFF)),
        "ended_at": _i("Ende des Versuchs", "end of the attempt", P_EXAM, seen_by=(CANDIDATE, PROCTOR, STAFF)),
        "points": _i("Punkte", "points", P_EXAM), "percent": _i("Prozent", "percent", P_EXAM),
        "passed": _i("bestanden", "passed", P_EXAM),
        "review_outcome": _i("Ergebnis der Aufsichtsprüfung", "outcome of the proctoring review", P_SUPERVISE,
                             seen_by=(CANDIDATE, PROCTOR, STAFF)),
        "seb_state": _i("bei Prüfungen in Safe Exam Browser: ob jede Anfrage des Versuchs den gültigen Schlüssel der "
                        "Prüfungskonfiguration trug (Safe Exam Browser sperrt den Rechner für die Prüfung; der "
                        "Bildschirm wird dann nicht aufgenommen)",
                        "in exams in Safe Exam Browser: whether every request of the attempt carried the valid key "
                        "of the exam's configuration (Safe Exam Browser locks the computer to the exam; the screen "
                        "is then not recorded)", P_SUPERVISE, seen_by=(CANDIDATE, PROCTOR, STAFF)),
    }, ("id", "exam_id", "user_id", "status", "deadline_at", "paused_at", "seed", "layout", "max_points",
        "pending_manual", "result_released_at"), RESULTS, Erase.KEEP,
        keep_reason=T("Prüfungsergebnisse: Aufbewahrungspflicht der Prüfungsstelle (ohne Ihren Namen)",
                      "exam results: the exam provider's duty to keep records (without your name)"), keep_years=10),
    Record("answer", "attempt", {
        "value": _i("Ihre Antworten", "your answers", P_EXAM),
        "manual_points": _i("Bewertung von Hand", "manual grading", P_EXAM),
        "manual_note": _i("Anmerkung der Prüferin oder des Prüfers zu einer mündlichen Aufgabe, einem Aufsatz "
                          "oder einer hochgeladenen Datei", "the examiner's note on an oral item, an essay or a "
                          "handed-in file", P_EXAM),
        "rubric_levels": _i("Bewertung eines Aufsatzes nach Kriterien (gewählte Stufe je Kriterium)",
                            "grading of an essay by its rubric (the level chosen per criterion)", P_EXAM),
        "saved_at": _i("Zeitpunkt des Speicherns", "time saved", P_EXAM),
    }, ("id", "attempt_id", "question_id"), WITH_ATTEMPT, Erase.DELETE),
    Record("answer_file", "attempt", {
        "name": _i("Name der hochgeladenen Datei", "name of the file you handed in", P_EXAM),
        "content_type": _i("Art der hochgeladenen Datei (PDF oder Bild)", "kind of the file you handed in (PDF or "
                           "image)", P_EXAM),
        "size": _i("Größe der hochgeladenen Datei", "size of the file you handed in", P_EXAM),
        "sha256": _i("Prüfsumme der hochgeladenen Datei", "checksum of the file you handed in", P_EXAM),
        "uploaded_at": _i("Zeitpunkt des Hochladens", "time handed in", P_EXAM),
    }, ("id", "attempt_id", "question_id", "blob_id"), WITH_ATTEMPT, Erase.DELETE),
    Record("media_play", "attempt", {
        "number": _i("wie oft Sie eine Aufnahme einer Aufgabe abgespielt haben (bei begrenzten Wiedergaben)",
                     "how often you played the recording of an item (where plays are limited)", P_EXAM),
        "issued_at": _i("Zeitpunkt einer Wiedergabe", "time of a play", P_EXAM),
        "expires_at": _i("Ende der Gültigkeit einer Wiedergabe", "when a play stops streaming", P_EXAM),
        "bytes_served": _i("übertragene Menge einer Wiedergabe", "amount streamed in a play", P_EXAM),
    }, ("id", "attempt_id", "question_id", "ticket_sha256", "byte_budget"), WITH_ATTEMPT, Erase.DELETE,
        secret=("ticket_sha256",)),
    Record("attempt_event", "attempt", {
        "at": _i("Zeitpunkt eines Ereignisses", "time of an event", P_SUPERVISE, seen_by=ALL_STAFF),
        "kind": _i("Ereignis im Versuch (z. B. Verbindung, Warnung)", "attempt event (e.g. connection, warning)",
                   P_SUPERVISE, seen_by=(CANDIDATE, PROCTOR, STAFF)),
        "detail": _i("Einzelheiten des Ereignisses", "event details", P_SUPERVISE, seen_by=ALL_STAFF),
    }, ("id", "attempt_id", "actor_id"), WITH_ATTEMPT, Erase.DELETE),
    Record("flag", "attempt", {
        "kind": _i("automatischer Hinweis (nur zur Prüfung durch Menschen)", "automated flag (for human review "
                   "only)", P_SUPERVISE, INTEREST, ALL_STAFF),
        "started_at": _i("Beginn des Hinweises", "flag start", P_SUPERVISE, INTEREST, ALL_STAFF),
        "last_seen_at": _i("letztes Auftreten", "last seen", P_SUPERVISE, INTEREST, ALL_STAFF),
        "detail": _i("Einzelheiten des Hinweises", "flag details", P_SUPERVISE, INTEREST, ALL_STAFF),
        "status": _i("Entscheidung über den Hinweis", "decision on the flag", P_SUPERVISE, INTEREST, ALL_STAFF),
        "note": _i("Notiz der Aufsicht", "proctor's note", P_SUPERVISE, INTEREST, ALL_STAFF),
        "reviewed_at": _i("Zeitpunkt der Entscheidung", "time of the decision", P_SUPERVISE, INTEREST, ALL_STAFF),
    }, ("id", "attempt_id", "reviewed_by_id"), WITH_ATTEMPT, Erase.DELETE),
    Record("appeal", "attempt", {
        "text": _i("Text Ihres Widerspruchs", "text of your appeal", P_APPEAL),
        "filed_at": _i("eingereicht am", "filed at", P_APPEAL),
        "status": _i("Stand des Widerspruchs", "status of the appeal", P_APPEAL),
        "decided_at": _i("entschieden am", "decided at", P_APPEAL),
        "decision_reason": _i("Begründung der Entscheidung", "reason of the decision", P_APPEAL),
    }, ("id", "attempt_id", "decided_by_id"), WITH_ATTEMPT, Erase.DELETE),
    Record("certificate", "attempt", {
        "credential": _i("signiertes Zertifikat (Name, Prüfung, Datum, Ergebnis)", "signed certificate (name, exam, "
                         "date, result)", P_EXAM, seen_by=(CANDIDATE, STAFF)),
        "openbadge": _i("Zertifikat als Open Badge (Name, Prüfung, Datum, Ergebnis, was geprüft wurde)",
                        "certificate as Open Badge (name, exam, date, result, what was checked)", P_EXAM,
                        seen_by=(CANDIDATE, STAFF)),
        "issued_at": _i("ausgestellt am", "issued at", P_EXAM), "sent_at": _i("versandt am", "sent at", P_EXAM),
        "revoked_at": _i("widerrufen am", "revoked at", P_EXAM),
        "revocation_reason": _i("Grund des Widerrufs", "reason of revocation", P_EXAM),
        "holder_name": _i("Name bei Ausstellung", "name at issue", P_EXAM, seen_by=(CANDIDATE, STAFF)),
        "holder_birth_date": _i("Geburtsdatum bei Ausstellung", "date of birth at issue", P_EXAM,
                                seen_by=(CANDIDATE, STAFF)),
        "completed_on": _i("Datum der Prüfung", "date of the exam", P_EXAM),
        "score_percent": _i("Ergebnis bei Ausstellung", "result at issue", P_EXAM),
        "identity_method": _i("wie die Identität festgestellt wurde", "how the identity was verified", P_EXAM),
        "identity_verified_at": _i("wann die Identität festgestellt wurde", "when the identity was verified",
                                   P_EXAM),
        "supervised": _i("mit Aufnahme beaufsichtigt", "supervised with recording", P_EXAM),
        "review": _i("Ergebnis der Durchsicht", "outcome of the review", P_EXAM),
        "seb_lockdown": _i("in Safe Exam Browser mit der Konfiguration der Prüfung abgelegt",
                           "taken in Safe Exam Browser with the exam's configuration", P_EXAM),
    }, ("id", "attempt_id", "public_id", "status_index"), T("10 Jahre ab Ausstellung, damit es überprüfbar bleibt",
                                            "10 years from issue, so that it stays verifiable"), Erase.KEEP,
        keep_reason=T("ausgestellte Zertifikate bleiben überprüfbar (Arbeitgeber, Behörden)",
                      "issued certificates stay verifiable (employers, authorities)"), keep_years=10),
    Record("id_check", "user_id", {
        "status": _i("Stand der Identitätsprüfung", "status of the identity check", P_IDENT),
        "biometric": _i("biometrischer Abgleich gewählt", "biometric matching chosen", P_IDENT, CONSENT_9),
        "challenge": _i("Lebendigkeitsaufgabe", "liveness challenge", P_IDENT, CONSENT_9),
        "selfie_uploads": _i("Anzahl gesendeter Selfies (Wiederholungen sind begrenzt)",
                             "number of selfies sent (retakes are limited)", P_IDENT),
        "auto_decision": _i("Empfehlung des Abgleichs", "recommendation of the matching", P_IDENT, CONSENT_9),
        "distance": _i("Abstand der Gesichtsmerkmale", "face distance", P_IDENT, CONSENT_9),
        "liveness_passed": _i("Lebendigkeit bestanden", "liveness passed", P_IDENT, CONSENT_9),
        "virtual_camera": _i("Name der Kamera, wenn er eine bekannte virtuelle Kamera nennt (ein Hinweis für die "
                             "Person, die prüft; nie ein Grund zur Ablehnung)", "the camera's name when it names a "
                             "known virtual camera (information for the reviewer; never a reason to refuse)", P_IDENT),
        "reason": _i("Grund der Empfehlung", "reason of the recommendation", P_IDENT),
        "document_check": _i("Prüfung der Ausweisnummer und MRZ", "check of ID number and MRZ", P_IDENT),
        "decision_reason": _i("Begründung der Entscheidung eines Menschen", "reason of the human decision", P_IDENT),
        "decided_at": _i("entschieden am", "decided at", P_IDENT),
        "created_at": _i("begonnen am", "started at", P_IDENT),
        "updated_at": _i("geändert am", "changed at", P_IDENT),
    }, ("id", "user_id", "exam_id", "id_image_blob_id", "selfie_blob_id", "frames_blob_id", "template_blob_id",
        "decided_by_id"), ID_CHECK, Erase.DELETE),
    Record("id_check_message", "user_id", {
        "text": _i("Chat mit der Aufsicht bei der Prüfung durch eine Person", "chat with the proctor in the check by a "
                   "person", P_IDENT),
        "at": _i("Zeitpunkt der Nachricht", "time of the message", P_IDENT),
        "from_proctor": _i("von der Aufsicht oder von Ihnen", "from the proctor or from you", P_IDENT),
        "sender_id": _i("wer schrieb (Konto)", "who wrote (account)", P_IDENT),
    }, ("id", "check_id", "user_id"), T("bis die Aufsicht entschieden hat (höchstens einen Tag)",
                                        "until the proctor has decided (at most one day)"), Erase.DELETE,
        age_days_config="IDCHECK_CHAT_RETENTION_DAYS", age_column="at"),
    Record("system_check", "user_id", {
        "passed_at": _i("Technikprüfung bestanden am", "system check passed at", P_EXAM),
        "detail": _i("Ergebnis der Technikprüfung (Kamera, Mikrofon, Verbindung)", "system check result (camera, "
                     "microphone, connection)", P_EXAM),
    }, ("id", "user_id", "exam_id"), ACCOUNT, Erase.DELETE),
    Record("phone_pairing", "user_id", {
        "created_at": _i("Kopplungscode für das Handy als zweite Kamera erstellt am", "pairing code for the phone as "
                         "the second camera made at", P_SUPERVISE),
        "expires_at": _i("Kopplungscode gültig bis", "pairing code valid until", P_SUPERVISE),
        "used_at": _i("Handy gekoppelt am", "phone paired at", P_SUPERVISE, seen_by=(CANDIDATE, PROCTOR, STAFF)),
        "replaced_at": _i("durch ein anderes Handy ersetzt am", "replaced by another phone at", P_SUPERVISE),
    }, ("id", "user_id", "exam_id", "attempt_id", "token_hash", "device_hash"), ACCOUNT, Erase.DELETE,
        secret=("token_hash", "device_hash")),
    Record("accommodation", "user_id", {
        "flag_kind": _i("abgeschalteter Hinweis (Nachteilsausgleich)", "silenced flag (accommodation)", P_SUPERVISE),
        "reason": _i("Grund des Nachteilsausgleichs", "reason of the accommodation", P_SUPERVISE,
                     seen_by=(CANDIDATE, PROCTOR, STAFF)),
        "created_at": _i("eingerichtet am", "set up at", P_SUPERVISE),
    }, ("id", "user_id", "exam_id", "created_by_id"), ACCOUNT, Erase.DELETE),
    Record("extra_time", "user_id", {
        "extra_minutes": _i("zusätzliche Minuten (Nachteilsausgleich)", "extra minutes (accommodation)", P_EXAM),
        "extra_percent": _i("zusätzliche Zeit in Prozent der Dauer (Nachteilsausgleich)",
                            "extra time in percent of the duration (accommodation)", P_EXAM),
        "reason": _i("Grund der zusätzlichen Zeit", "reason of the extra time", P_EXAM,
                     seen_by=(CANDIDATE, PROCTOR, STAFF)),
        "created_at": _i("eingerichtet am", "set up at", P_EXAM),
    }, ("id", "user_id", "exam_id", "created_by_id"), ACCOUNT, Erase.DELETE),
    Record("exam_proctor", "user_id", {}, ("exam_id", "user_id"), ACCOUNT, Erase.DELETE),
    Record("session_proctor", "user_id", {}, ("session_id", "user_id"), ACCOUNT, Erase.DELETE),
    Record("enrolment", "user_id", {
        "enrolled_at": _i("Anmeldung zur Prüfung am", "enrolled in the exam at", P_EXAM,
                          seen_by=(CANDIDATE, PROCTOR, STAFF)),
        "session_id": _i("Prüfungstermin (Datum und Uhrzeit)", "exam session (date and time)", P_EXAM,
                         seen_by=(CANDIDATE, PROCTOR, STAFF)),
        "proctor_id": _i("zugeteilte Aufsicht", "assigned proctor", P_SUPERVISE, seen_by=(CANDIDATE, PROCTOR, STAFF)),
        "attempts_allowed": _i("erlaubte Prüfungsversuche", "attempts allowed", P_EXAM),
    }, ("id", "exam_id", "user_id"), WITH_ATTEMPT, Erase.DELETE),
    Record("notice", "user_id", {
        "kind": _i("Art einer E-Mail an Sie (Anmeldung, Erinnerung, Ergebnis, Widerspruch, Identität)",
                   "kind of an email to you (enrolment, reminder, result, appeal, identity)", P_EXAM),
        "params": _i("worauf sich die E-Mail bezieht (Nummern, neue Adresse)", "what the email is about (numbers, "
                     "new address)", P_EXAM),
        "created_at": _i("E-Mail veranlasst am", "email queued at", P_EXAM),
        "sent_at": _i("E-Mail versandt am", "email sent at", P_EXAM),
    }, ("id", "user_id", "key"), ACCOUNT, Erase.DELETE),
    Record("blob", "user_id", {
        "category": _i("Art einer gespeicherten Datei", "kind of a stored file", P_ACCOUNTABILITY),
        "created_at": _i("gespeichert am", "stored at", P_ACCOUNTABILITY),
        "purged_at": _i("gelöscht am", "deleted at", P_ACCOUNTABILITY),
        "plaintext_size": _i("Größe", "size", P_ACCOUNTABILITY),
    }, ("id", "key", "state", "master_key_id", "wrapped_key", "content_type", "institution_id", "user_id",
        "attempt_id", "retain_until", "completed_at"), T("Dateien nach den Regeln unten; die Angaben dazu bis zur "
                                                        "Löschung des Kontos", "files by the rules below; these "
                                                        "entries until the account is deleted"), Erase.KEEP,
        keep_reason=T("nur Art, Größe und Zeitpunkt gelöschter Dateien, als Nachweis der Löschung",
                      "only kind, size and time of deleted files, as proof of deletion"),
        secret=("wrapped_key", "key", "master_key_id")),
    Record("purge_receipt", "user_id", {
        "category": _i("gelöschte Datei", "deleted file", P_ACCOUNTABILITY, LEGAL_DUTY),
        "rule": _i("Regel der Löschung", "deletion rule", P_ACCOUNTABILITY, LEGAL_DUTY),
        "purged_at": _i("gelöscht am", "deleted at", P_ACCOUNTABILITY, LEGAL_DUTY),
    }, ("id", "blob_id", "institution_id", "user_id", "attempt_id"), T("3 Jahre", "3 years"), Erase.KEEP,
        keep_reason=T("Nachweis, dass und wann wir gelöscht haben", "proof that and when we deleted"), keep_years=3),
    Record("access_log", "subject_id", {
        "at": _i("Zeitpunkt eines Zugriffs des Personals", "time of a staff access", P_ACCOUNTABILITY, LEGAL_DUTY),
        "what": _i("worauf zugegriffen wurde", "what was accessed", P_ACCOUNTABILITY, LEGAL_DUTY),
        "why": _i("warum", "why", P_ACCOUNTABILITY, LEGAL_DUTY),
        "actor_id": _i("wer (Konto des Personals)", "who (staff account)", P_ACCOUNTABILITY, LEGAL_DUTY),
    }, ("id", "subject_id", "attempt_id"), T("3 Jahre", "3 years"), Erase.KEEP,
        keep_reason=T("Nachweis der Zugriffe auf Ihre Aufnahmen und Ausweisbilder",
                      "record of access to your recordings and ID images"), keep_years=3,
        age_days_config="ACCESS_LOG_RETENTION_DAYS", age_column="at"),
    Record("evidence_view", "attempt", {
        "at": _i("wann das Personal einen Teil der Aufnahme oder ein Standbild öffnete",
                 "when staff opened a part of the recording or a snapshot", P_SUPERVISE, INTEREST, (STAFF,)),
        "viewer_id": _i("wer (Konto des Personals)", "who (staff account)", P_SUPERVISE, INTEREST, (STAFF,)),
        "span_start": _i("Beginn des geöffneten Abschnitts", "start of the stretch opened", P_SUPERVISE, INTEREST,
                         (STAFF,)),
        "span_end": _i("Ende des geöffneten Abschnitts", "end of the stretch opened", P_SUPERVISE, INTEREST,
                       (STAFF,)),
    }, ("id", "attempt_id", "blob_id"), WITH_ATTEMPT, Erase.DELETE),
    Record("detector_run", "attempt", {
        "at": _i("Zeitpunkt eines automatischen Hinweises", "time of an automated flag", P_AI_LOG, LEGAL_DUTY,
                 (STAFF,)),
        "detector": _i("welcher Detektor", "which detector", P_AI_LOG, LEGAL_DUTY, (STAFF,)),
        "flag_kind": _i("Art des Hinweises", "kind of flag", P_AI_LOG, LEGAL_DUTY, (STAFF,)),
        "model": _i("Modell", "model", P_AI_LOG, LEGAL_DUTY, (STAFF,)),
        "version": _i("Version des Modells", "model version", P_AI_LOG, LEGAL_DUTY, (STAFF,)),
        "thresholds": _i("Schwellen", "thresholds", P_AI_LOG, LEGAL_DUTY, (STAFF,)),
        "measure": _i("Messwert (eine Zahl, kein Bild)", "measured value (a number, no image)", P_AI_LOG,
                      LEGAL_DUTY, (STAFF,)),
        "span_start": _i("Beginn des geprüften Zeitraums", "start of the span examined", P_AI_LOG, LEGAL_DUTY,
                         (STAFF,)),
        "span_end": _i("Ende des geprüften Zeitraums", "end of the span examined", P_AI_LOG, LEGAL_DUTY, (STAFF,)),
    }, ("id", "attempt_id", "flag_id", "outcome"), T("6 Monate", "6 months"), Erase.DELETE,
        age_days_config="AIACT_LOG_RETENTION_DAYS", age_column="at"),
    Record("data_export", "user_id", {
        "created_at": _i("Datenauskunft angefordert am", "data export requested at", P_ACCOUNT, LEGAL_DUTY),
        "status": _i("Stand der Datenauskunft", "status of the data export", P_ACCOUNT, LEGAL_DUTY),
        "expires_at": _i("Download gültig bis", "download valid until", P_ACCOUNT, LEGAL_DUTY),
    }, ("id", "user_id", "token", "progress", "blob_id", "lang"), T("7 Tage", "7 days"), Erase.DELETE,
        secret=("token",), age_days_config="EXPORT_RETENTION_DAYS", age_column="created_at"),
    Record("webhook_delivery", "attempt", {
        "event": _i("Anlass der Mitteilung (Ergebnis, Zertifikat, Widerspruch)", "occasion of the message (result, "
                    "certificate, appeal)", P_RESULTS_OUT, seen_by=(STAFF,)),
        "body": _i("mitgeteilte Angaben (Name, E-Mail-Adresse, Prüfung, Ergebnis oder Zertifikatsnummer)",
                   "what was sent (name, email address, exam, result or certificate number)", P_RESULTS_OUT,
                   seen_by=(STAFF,)),
        "created_at": _i("Mitteilung veranlasst am", "message queued at", P_RESULTS_OUT, seen_by=(STAFF,)),
        "status": _i("Stand der Zustellung", "delivery status", P_RESULTS_OUT, seen_by=(STAFF,)),
        "attempts": _i("Zahl der Zustellversuche", "number of delivery tries", P_RESULTS_OUT, seen_by=(STAFF,)),
        "last_attempt_at": _i("letzter Zustellversuch am", "last try at", P_RESULTS_OUT, seen_by=(STAFF,)),
        "response_code": _i("Antwort des empfangenden Systems (HTTP-Status)", "the receiving system's answer (HTTP "
                            "status)", P_RESULTS_OUT, seen_by=(STAFF,)),
        "last_error": _i("was bei der Zustellung fehlschlug", "what failed in the delivery", P_RESULTS_OUT,
                         seen_by=(STAFF,)),
    }, ("id", "endpoint_id", "attempt_id", "message_id", "next_attempt_at"), T("30 Tage", "30 days"), Erase.DELETE,
        age_days_config="WEBHOOK_LOG_RETENTION_DAYS", age_column="created_at"),
]

#: Tables that hold no personal data, with the reason.
NOT_PERSONAL: dict[str, str] = {
    "institution": "the exam provider (an organisation)",
    "exam": "what an exam provider publishes",
    "exam_session": "an exam's time slots and how many candidates a proctor watches",
    "institution_settings": "an organisation's choices",
    "accessibility_statement": "the platform's accessibility statement (texts and a functional contact address, no "
                               "person; who changed it is not kept)",
    "oidc_provider": "an organisation's sign-in provider (its address, client id and encrypted client secret)",
    "lti_platform": "an organisation's learning platform (its addresses, client id and deployment ids)",
    "lti_link": "which course item of a learning platform opens which exam, and the platform's service addresses",
    "lti_login_state": "a launch in flight (random state and nonce, no person; deleted after an hour)",
    "saml_provider": "an organisation's SAML identity provider or federation (metadata, attribute names, our SP keys "
                     "sealed)",
    "saml_request": "a SAML sign-in in flight (random id, a hash of the browser's cookie, the IdP picked, the page to "
                    "return to; no person; used once within 15 minutes)",
    "saml_assertion_seen": "ids of SAML assertions already used (replay protection; no person; deleted once they "
                           "expire)",
    "api_token": "an organisation's key for its own systems (a name, scopes, the SHA-256 of the token, when it was "
                 "made, last used and revoked, and the number of the staff account that made or revoked it)",
    "webhook_endpoint": "an organisation's system address for webhooks (URL, events, the sealed signing secret, the "
                        "number of the staff account that added it)",
    "alembic_version": "schema version",
    "item_image": "an image an exam item shows (exam content of an organisation; who uploaded it is a staff "
                  "account)",
    "item_media": "audio or video an exam item plays (exam content of an organisation; who uploaded it is a staff "
                  "account)",
    "media_assignment": "which media engine holds a live session (routing; deleted at hang-up)",
    "recording_playback": "which stored copy of a recording part the review player plays, where it starts and "
                          "how long it is (no content; the copy itself is the stored file category playback)",
}

MEDIA_DE = ("erst nach der Durchsicht, die die Prüfungsstelle verlangt, und wenn die Widerspruchsfrist endet (mit "
            "dem 7. Tag nach dem Ergebnis, oder früher, wenn Sie das Zertifikat vorher anfordern); ohne "
            "freigegebenes Ergebnis 30 Tage nach der Prüfung; ein offener Widerspruch hält sie bis zur "
            "Entscheidung, ein stattgegebener bis zum Ende der Frist des neuen Ergebnisses")

STORED_FILES: list[StoredFiles] = [
    StoredFiles("recording", _i("Audio- und Videoaufnahme der Prüfung (Webcam und Mikrofon; bei Prüfungen mit "
                                "Bildschirmaufnahme auch der ganze Bildschirm; bei Prüfungen mit Raumscan auch "
                                "der Raum, der Schreibtisch, der Boden um den Stuhl und die Bildschirmränder, wie die "
                                "Kamera sie beim Raumscan zeigt; bei mündlichen Prüfungen auch Bild und "
                                "Ton der Prüferin oder des Prüfers, zur Neubewertung der mündlichen Leistung; spricht "
                                "die Aufsicht während der Prüfung mit Ihnen, auch deren Bild und Ton)",
                                "audio and video recording of the exam (webcam and microphone; in exams that record "
                                "the screen also the whole screen; in exams with a room scan also the room, the desk, "
                                "the floor around the chair and the screen's edges as the camera shows them in the "
                                "scan; in oral exams also the examiner's picture and "
                                "sound, for re-evaluating the oral performance; when a proctor talks to you during "
                                "the exam, also the proctor's picture and sound)",
                                P_SUPERVISE, INTEREST, (CANDIDATE, PROCTOR, STAFF)), MEDIA_DE),
    StoredFiles("playback", _i("Abspielkopie der Aufnahme (dieselben Bilder und Töne, zum Vor- und Zurückspulen "
                               "bei der Durchsicht)", "playback copy of the recording (the same pictures and sound, "
                               "so that the review can seek in it)", P_SUPERVISE, INTEREST,
                               (CANDIDATE, PROCTOR, STAFF)),
                MEDIA_DE),
    StoredFiles("phone_recording", _i("Videoaufnahme der zweiten Kamera (Ihr Handy neben Ihnen: Tisch, Hände und "
                                      "Bildschirm; ohne Ton), bei Prüfungen, die eine zweite Kamera verlangen",
                                      "video recording of the second camera (your phone beside you: desk, hands and "
                                      "screen; no sound), in exams that require a second camera",
                                      P_SUPERVISE, INTEREST, (CANDIDATE, PROCTOR, STAFF)), MEDIA_DE),
    StoredFiles("snapshot", _i("Standbilder der Webcam", "webcam snapshots", P_SUPERVISE, INTEREST,
                               (CANDIDATE, PROCTOR, STAFF)), MEDIA_DE),
    StoredFiles("chat", _i("Chat mit der Aufsicht", "chat with the proctor", P_SUPERVISE, CONTRACT,
                           (CANDIDATE, PROCTOR, STAFF)), MEDIA_DE),
    StoredFiles("id_image", _i("Foto des Ausweises und Selfie", "photo of the ID document and selfie", P_IDENT,
                               CONTRACT, (CANDIDATE, PROCTOR, STAFF)),
                "direkt nach der Entscheidung über Ihre Identität gelöscht (oder zum Prüfungsende, wenn die "
                "Prüfungsstelle sie bis dahin aufbewahrt); jedes Bild erhält sein Löschdatum schon beim Speichern: "
                "spätestens das Prüfungsende, oder 7 Tage später bei einer nicht abgeschlossenen Prüfung"),
    StoredFiles("face_template", _i("Gesichtsmerkmale (biometrisch)", "face template (biometric)", P_IDENT,
                                    CONSENT_9, ()),
                "mit den Daten der Prüfung (Prüfungsende plus Widerspruchsfrist) gelöscht, sofort beim Widerruf der "
                "Einwilligung"),
    StoredFiles("answer_file", _i("Dateien, die Sie als Antwort hochgeladen haben (PDF oder Bild)",
                                  "files you handed in as an answer (PDF or image)", P_EXAM, CONTRACT,
                                  (CANDIDATE, STAFF)), MEDIA_DE),
    StoredFiles("export", _i("Ihre Datenauskunft (ZIP)", "your data export (ZIP)", P_ACCOUNT, LEGAL_DUTY,
                             (CANDIDATE,)), "7 Tage nach der Erstellung gelöscht"),
]


@dataclasses.dataclass(frozen=True)
class OutboxMails:
    """Mails to a person kept as files while no mail server is configured (exams/mailer.py)."""

    category: str
    item: Item
    retention: T


OUTBOX = OutboxMails("outbox", _i("E-Mails an Sie (Zertifikat, Bestätigungs- und Passwort-Links), solange kein "
                                  "Mailserver eingerichtet ist", "emails to you (certificate, confirmation and "
                                  "password links) while no mail server is set up", P_ACCOUNT, CONTRACT, (ADMIN,)),
                     T("7 Tage, mit dem Konto sofort gelöscht", "7 days; deleted at once with the account"))


def record(table: str) -> Record:
    """The inventory entry of ``table``."""
    for rec in RECORDS:
        if rec.table == table:
            return rec
    raise KeyError(table)


def receipt_rule(category: str, rule: str) -> str:
    """The retention rule a deletion receipt names, in the page's language.

    A receipt keeps storage's (English) rule text as it was applied; where it is the category's current rule, the
    page shows it from this inventory in German or English; an older wording is shown as it was kept.
    """
    for files in STORED_FILES:
        if files.category == category and RULES[category].description == rule:
            return str(files.retention)
    return rule
