"""The public search: one box for report numbers, makers, models, labs, standards and certificate numbers.

Each report is one `SearchDocument`: facet columns plus `terms`, a normalized text of everything a person may type.
The database's own text index answers the query, never a LIKE scan of the tables:

* SQLite: an FTS5 table with the trigram tokenizer (external content over `search_documents`), so any substring
  of three characters or more is found, Chinese as well as Latin; words shorter than three characters (Chinese
  names are often two) are indexed padded with '|' (`|天域|`, `|vt|`) and the query pads them the same way.
* PostgreSQL: a pg_trgm GIN index over `terms` answers the substring (LIKE) part and a tsvector GIN index the
  short words; pg_trgm similarity on product model keys proposes near-miss model names.

The rows are refreshed in the transaction that changes a product's evidence (`on_evidence_changed`, registered on
`services.reports.evidence_listeners`), and `reindex_missing` catches up after a migration.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable, Sequence

from sqlalchemy import (
    Integer,
    and_,
    any_,
    bindparam,
    column,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from registry.models import (
    Decision,
    Organization,
    Product,
    ProductIdentifier,
    Report,
    ReportRevision,
    SearchDocument,
    SearchStandard,
    utcnow,
)

ACCESSIBLE = ("accessible", "accessible_with_conditions")
MAX_TOKENS = 8
MAX_TOKEN_LENGTH = 64
_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_WORDS = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+")
_IS_CJK = re.compile(rf"[{_CJK}]")
_EDGE_PUNCTUATION = "\"'`.,;:!?()[]{}<>“”‘’，。、；：！？（）【】《》"


# ---------------------------------------------------------------------------------------------------- text


def normalize(value: str) -> str:
    """Fold a text for matching: NFKC (full-width letters become ASCII) and case-folded."""
    return unicodedata.normalize("NFKC", value).casefold()


def compact(value: str) -> str:
    """An identifier without its punctuation, so `VTDC600L` finds `VT-DC600L` and `GBT 18487` finds `GB/T 18487`."""
    return "".join(ch for ch in normalize(value) if ch.isalnum())


def _short_words(value: str) -> list[str]:
    """Padded words under three characters, and every Chinese character and character pair, for the index."""
    out: list[str] = []
    for word in _WORDS.findall(value):
        if _IS_CJK.match(word):
            out.extend(f"|{ch}|" for ch in word)
            out.extend(f"|{word[i:i + 2]}|" for i in range(len(word) - 1))
        elif len(word) < 3:
            out.append(f"|{word}|")
    return out


def index_terms(texts: Iterable[str | None], identifiers: Iterable[str | None] = ()) -> str:
    """The normalized text stored for one report: each text, the compact form of each identifier, short words."""
    parts: list[str] = []
    for value in list(texts) + list(identifiers):
        if value:
            parts.append(normalize(value))
    for value in identifiers:
        if value:
            squeezed = compact(value)
            if squeezed and squeezed not in parts:
                parts.append(squeezed)
    short = list(dict.fromkeys(word for part in parts for word in _short_words(part)))
    return "\n".join(parts + [" ".join(short)] if short else parts)


def query_tokens(query: str) -> list[str]:
    """Split what was typed into the tokens that must all match (at most eight)."""
    tokens = []
    for raw in normalize(query).split():
        token = raw.strip(_EDGE_PUNCTUATION)[:MAX_TOKEN_LENGTH]
        if token and any(ch.isalnum() for ch in token):
            tokens.append(token)
    return list(dict.fromkeys(tokens))[:MAX_TOKENS]


def _padded(token: str) -> str:
    return token if len(token) >= 3 else f"|{token}|"


def fts5_query(tokens: Sequence[str]) -> str:
    """An FTS5 MATCH expression: every token as a quoted phrase (with the trigram tokenizer, a substring)."""
    return " AND ".join('"' + _padded(t).replace('"', '""') + '"' for t in tokens)


def trigrams(value: str) -> set[str]:
    """pg_trgm's trigrams of a text: each word padded with two spaces in front and one behind."""
    grams: set[str] = set()
    for word in _WORDS.findall(normalize(value)):
        padded = f"  {word} "
        grams.update(padded[i:i + 3] for i in range(len(padded) - 2))
    return grams


def similarity(a: str, b: str) -> float:
    """pg_trgm's similarity(): shared trigrams over all trigrams of both."""
    ta, tb = trigrams(a), trigrams(b)
    return len(ta & tb) / len(ta | tb) if ta and tb else 0.0


# ---------------------------------------------------------------------------------------------------- the index


def document_rows(session: Session, product_ids: Sequence[int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The search rows (and standard rows) of every report of these products, from their current revisions."""
    if not product_ids:
        return [], []
    rows = session.execute(
        select(Report.id, Report.product_id, Report.lab_id, Report.report_number, Report.status,
               Report.current_revision, Report.issued_on, ReportRevision.document)
        .join(ReportRevision, and_(ReportRevision.report_id == Report.id,
                                   ReportRevision.revision == Report.current_revision))
        .where(Report.product_id.in_(product_ids))
    ).all()
    products = {p.id: p for p in session.execute(
        select(Product.id, Product.model, Product.manufacturer_id).where(Product.id.in_(product_ids)))}
    identifiers: dict[int, list[tuple[str, str]]] = {}
    for pid, scheme, number in session.execute(
        select(ProductIdentifier.product_id, ProductIdentifier.scheme, ProductIdentifier.number)
        .where(ProductIdentifier.product_id.in_(product_ids))
    ):
        identifiers.setdefault(pid, []).append((scheme, number))
    org_ids = {r.lab_id for r in rows} | {p.manufacturer_id for p in products.values()}
    names = {o.id: o for o in session.execute(
        select(Organization.id, Organization.name_en, Organization.name_zh).where(Organization.id.in_(org_ids)))}
    now = utcnow()
    documents, standards = [], []
    for r in rows:
        product = products[r.product_id]
        document, cited = _report_rows(r.id, r.product_id, r.lab_id, r.report_number, r.status, r.current_revision,
                                       r.issued_on, r.document, product.model, product.manufacturer_id,
                                       identifiers.get(r.product_id, []), names, now)
        documents.append(document)
        standards.extend(cited)
    return documents, standards


def _report_rows(report_id, product_id, lab_id, report_number, status, revision, issued_on, report_document,
                 model, manufacturer_id, identifiers, names, now) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One report's search row and its standard rows."""
    declared = report_document.get("product", {})
    cited = sorted({res["standard"] for res in report_document.get("results", [])})
    certificates = [(c.get("scheme", ""), c.get("number", "")) for c in declared.get("certificates", [])]
    certificates += identifiers
    lab, maker = names.get(lab_id), names.get(manufacturer_id)
    variants = [v.get("model") for v in declared.get("variants", []) if isinstance(v, dict)]
    document = dict(
        report_id=report_id, product_id=product_id, lab_id=lab_id, status=status, revision=revision,
        issued_on=issued_on, indexed_at=now,
        terms=index_terms(
            [lab_id, lab and lab.name_en, lab and lab.name_zh, manufacturer_id,
             maker and maker.name_en, maker and maker.name_zh, declared.get("trademark"),
             " ".join(sorted({scheme for scheme, _n in certificates}))],
            [report_number, model, *variants, *cited, *sorted({n for _s, n in certificates})],
        ),
    )
    return document, [dict(report_id=report_id, standard_id=s) for s in cited]


_organizations = Organization.__table__
_ORG_NAMES = select(_organizations.c.id, _organizations.c.name_en, _organizations.c.name_zh).where(
    _organizations.c.id.in_(bindparam("ids", expanding=True))
)
_INSERT_DOCUMENT = insert(SearchDocument.__table__)
_INSERT_STANDARDS = insert(SearchStandard.__table__)
_INSERT_MODEL = text("INSERT INTO search_models_fts(rowid, model_key) VALUES (:id, :key)")


def refresh_products(session: Session, product_ids: Sequence[int]) -> None:
    """Rewrite the search rows of these products' reports inside the caller's transaction."""
    product_ids = list(dict.fromkeys(product_ids))
    if not product_ids:
        return
    documents, standards = document_rows(session, product_ids)
    report_ids = [d["report_id"] for d in documents]
    stale = or_(SearchDocument.product_id.in_(product_ids), SearchDocument.report_id.in_(report_ids))
    session.execute(delete(SearchStandard).where(
        SearchStandard.report_id.in_(select(SearchDocument.report_id).where(stale))))
    session.execute(delete(SearchDocument).where(stale))
    if documents:
        session.execute(insert(SearchDocument.__table__), documents)
    if standards:
        session.execute(insert(SearchStandard.__table__), standards)
    if session.get_bind().dialect.name == "sqlite":
        models = session.execute(
            select(Product.id, Product.model_key).where(Product.id.in_(product_ids))).all()
        session.execute(text("DELETE FROM search_models_fts WHERE rowid IN (%s)" % ",".join(
            str(int(pid)) for pid in product_ids)))
        for pid, key in models:
            session.execute(text("INSERT INTO search_models_fts(rowid, model_key) VALUES (:id, :key)"),
                            {"id": pid, "key": key})


_identifiers = ProductIdentifier.__table__
_products = Product.__table__
_HELD = select(_identifiers.c.scheme, _identifiers.c.number).where(_identifiers.c.product_id == bindparam("product_id"))
_FIRST_NAMED = select(func.count()).select_from(_identifiers).where(
    _identifiers.c.product_id == bindparam("product_id"), _identifiers.c.first_report_id == bindparam("report_id"))
_PRODUCT = select(_products.c.model, _products.c.manufacturer_id).where(_products.c.id == bindparam("product_id"))


def _index_filed_report(session: Session, change) -> bool:
    """Add the search row of the report just filed, from the document in hand. The other reports' rows stay as they
    are unless the report names an identifier the product lacked (each row lists them all): then this returns False
    and the product's rows must all be rewritten."""
    conn = session.connection()
    document = change.document
    if change.created:  # its only report: no other rows, no identifiers but its own
        model, manufacturer_id, held = document["product"]["model"], change.manufacturer_id, []
    else:
        if conn.execute(_FIRST_NAMED, {"product_id": change.product_id, "report_id": change.report_id}).scalar():
            return False
        model, manufacturer_id = conn.execute(_PRODUCT, {"product_id": change.product_id}).one()
        held = [tuple(row) for row in conn.execute(_HELD, {"product_id": change.product_id})]
    names = {o.id: o for o in conn.execute(_ORG_NAMES, {"ids": [document["lab"], manufacturer_id]})}
    row, cited = _report_rows(
        change.report_id, change.product_id, document["lab"], document["report_number"], "valid", 1,
        date.fromisoformat(document["issued_on"]), document, model, manufacturer_id, held, names, utcnow(),
    )
    conn.execute(_INSERT_DOCUMENT, row)
    if cited:
        conn.execute(_INSERT_STANDARDS, cited)
    if change.created and conn.dialect.name == "sqlite":
        conn.execute(_INSERT_MODEL, {"id": change.product_id, "key": change.model_key})
    return True


def on_evidence_changed(session: Session, change) -> None:
    """Listener for report writes (a `reports.EvidenceChange`): the product's search rows follow its reports in the
    same transaction."""
    if change.document is None or not _index_filed_report(session, change):
        refresh_products(session, [change.product_id])


def reindex_missing(session: Session, everything: bool = False, batch: int = 500) -> int:
    """Index the products whose reports have no search row (or every product); commits per batch."""
    if everything:
        ids = list(session.scalars(select(Product.id).order_by(Product.id)))
    else:
        ids = list(session.scalars(
            select(Report.product_id).distinct()
            .where(~Report.id.in_(select(SearchDocument.report_id))).order_by(Report.product_id)))
    for start in range(0, len(ids), batch):
        refresh_products(session, ids[start:start + batch])
        session.commit()
    return len(ids)


# ---------------------------------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class SearchFilters:
    """The facets a search is narrowed by (all optional); they are part of the permalink."""

    market: str | None = None
    standard: str | None = None
    lab: str | None = None
    status: str | None = None  # valid | withdrawn | revised
    product: int | None = None


@dataclass
class SearchResult:
    total: int  # exact up to COUNT_CAP; `total_capped` says the true number is larger
    report_ids: list[int]
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    products: list[tuple[int, int]] = field(default_factory=list)
    product_total: int = 0
    total_capped: bool = False
    facet_window: int | None = None  # facets cover only this many newest matches (None: all of them)


# A broad query ("Shenzhen", a lab's name) can match most of the registry. Results come newest first; facets are
# counted over the newest FACET_WINDOW matches and the total is counted up to COUNT_CAP, so no query costs more than
# reading that many index entries. Both limits are shown on the page when they apply.
FACET_WINDOW = 1000
COUNT_CAP = 10_000

_fts = table("search_fts", column("rowid"))


def _postgres_match(tokens: Sequence[str]):
    conditions = []
    for token in tokens:
        if len(token) >= 3:
            escaped = token.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(SearchDocument.terms.like(f"%{escaped}%", escape="\\"))
        else:
            vector = func.to_tsvector(literal_column("'simple'"), SearchDocument.terms)
            conditions.append(vector.op("@@")(func.plainto_tsquery(literal_column("'simple'"), token)))
    return and_(*conditions)


def _filtered(session: Session, tokens: Sequence[str], filters: SearchFilters):
    """The matching reports, newest first, asking the engine's text index for the tokens.

    On SQLite the FTS5 table drives the query (a join on its rowid, ordered by it), so a LIMIT stops the text index
    early instead of materializing every match.
    """
    columns = (SearchDocument.report_id, SearchDocument.product_id, SearchDocument.lab_id, SearchDocument.status,
               SearchDocument.revision)
    if tokens and session.get_bind().dialect.name == "sqlite":
        query = (select(*columns).select_from(_fts)
                 .join(SearchDocument, SearchDocument.report_id == _fts.c.rowid)
                 .where(text("search_fts MATCH :fts_query").bindparams(fts_query=fts5_query(tokens)))
                 .order_by(_fts.c.rowid.desc()))
    else:
        query = select(*columns).order_by(SearchDocument.report_id.desc())
        if tokens:
            query = query.where(_postgres_match(tokens))
    if filters.lab:
        query = query.where(SearchDocument.lab_id == filters.lab)
    if filters.product:
        query = query.where(SearchDocument.product_id == filters.product)
    if filters.status == "revised":
        query = query.where(SearchDocument.revision > 1)
    elif filters.status:
        query = query.where(SearchDocument.status == filters.status)
    if filters.standard:
        query = query.where(SearchDocument.report_id.in_(
            select(SearchStandard.report_id).where(SearchStandard.standard_id == filters.standard)))
    if filters.market:
        query = query.where(SearchDocument.product_id.in_(
            select(Decision.product_id).where(Decision.market == filters.market, Decision.verdict.in_(ACCESSIBLE))))
    return query


def _among(session: Session, column_, ids: Sequence[int]):
    """`column IN ids` for a long list: one array parameter on PostgreSQL (its planner is slow on 2,000 literals)."""
    if session.get_bind().dialect.name == "postgresql":
        return column_ == any_(bindparam("ids_" + column_.key, list(ids), type_=ARRAY(Integer)))
    return column_.in_(list(ids))


def _count(values: Iterable[Any]) -> list[tuple[Any, int]]:
    counted: dict[Any, int] = {}
    for value in values:
        counted[value] = counted.get(value, 0) + 1
    return sorted(counted.items(), key=lambda kv: (-kv[1], str(kv[0])))


def run_search(session: Session, tokens: Sequence[str], filters: SearchFilters, offset: int, limit: int,
               facet_limit: int = 12) -> SearchResult:
    """Count, facet and page the matching reports, newest first."""
    query = _filtered(session, tokens, filters)
    window = session.execute(query.limit(FACET_WINDOW + 1)).all()
    result = SearchResult(total=len(window), report_ids=[])
    if len(window) > FACET_WINDOW:
        window = window[:FACET_WINDOW]
        result.facet_window = FACET_WINDOW
        counted = session.scalar(select(func.count()).select_from(query.limit(COUNT_CAP + 1).subquery()))
        result.total = min(counted, COUNT_CAP)
        result.total_capped = counted > COUNT_CAP
    ids = [row.report_id for row in window]
    by_product = _count(row.product_id for row in window)
    statuses = _count(row.status for row in window)
    revised = sum(1 for row in window if row.revision > 1)
    order = ("valid", "revised", "withdrawn")
    result.facets = {
        "lab": _count(row.lab_id for row in window)[:facet_limit],
        "status": sorted(statuses + ([("revised", revised)] if revised else []),
                         key=lambda kv: order.index(kv[0]) if kv[0] in order else 9),
        "standard": [], "market": [],
    }
    result.products = by_product[:facet_limit]
    result.product_total = len(by_product)
    if ids:
        # Counted here rather than with GROUP BY: the planner then looks the few ids up by primary key instead of
        # walking a whole index in group order.
        result.facets["standard"] = _count(session.scalars(
            select(SearchStandard.standard_id).where(_among(session, SearchStandard.report_id, ids))))[:facet_limit]
        reports_of = dict(by_product)
        per_market: dict[str, int] = {}
        for market, pid in session.execute(
            select(Decision.market, Decision.product_id)
            .where(_among(session, Decision.product_id, list(reports_of)), Decision.verdict.in_(ACCESSIBLE))
        ):
            per_market[market] = per_market.get(market, 0) + reports_of[pid]
        result.facets["market"] = sorted(per_market.items(), key=lambda kv: (-kv[1], kv[0]))
    if offset + limit <= len(ids):
        result.report_ids = ids[offset:offset + limit]
    elif result.total > offset:
        result.report_ids = [row.report_id for row in session.execute(query.offset(offset).limit(limit))]
    return result


def near_models(session: Session, query: str, limit: int = 5, threshold: float = 0.3) -> list[tuple[int, str]]:
    """Products whose model name is close to what was typed (trigram similarity), best first."""
    key = normalize(query).strip()
    if len(key) < 3:
        return []
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            select(Product.id, Product.model)
            .where(Product.model_key.op("%")(key))
            .order_by(func.similarity(Product.model_key, key).desc(), Product.id).limit(limit)
        ).all()
        return [(r.id, r.model) for r in rows]
    grams = sorted(g for g in trigrams(key) if g.strip())
    grams = [g for g in grams if len(g.strip()) == 3] or grams
    if not grams:
        return []
    expression = " OR ".join('"' + g.replace('"', '""') + '"' for g in grams[:24])
    candidates = session.execute(
        text("SELECT rowid, model_key FROM search_models_fts WHERE search_models_fts MATCH :q "
             "ORDER BY rank LIMIT 50"), {"q": expression}).all()
    scored = sorted(((similarity(key, model_key), pid) for pid, model_key in candidates), key=lambda s: (-s[0], s[1]))
    ids = [pid for score, pid in scored if score >= threshold][:limit]
    models = dict(session.execute(select(Product.id, Product.model).where(Product.id.in_(ids))).all()) if ids else {}
    return [(pid, models[pid]) for pid in ids if pid in models]


def latest_change(session: Session) -> Any:
    """When a report last changed (the search rows follow in the same transaction): the "data as of" line."""
    return session.scalar(select(func.max(Report.updated_at)))
