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
    String,
    and_,
    cast,
    column,
    delete,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
    union_all,
)
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
        declared = r.document.get("product", {})
        cited = sorted({res["standard"] for res in r.document.get("results", [])})
        certificates = [(c.get("scheme", ""), c.get("number", "")) for c in declared.get("certificates", [])]
        certificates += identifiers.get(r.product_id, [])
        lab, maker = names.get(r.lab_id), names.get(product.manufacturer_id)
        variants = [v.get("model") for v in declared.get("variants", []) if isinstance(v, dict)]
        documents.append(dict(
            report_id=r.id, product_id=r.product_id, lab_id=r.lab_id, status=r.status, revision=r.current_revision,
            issued_on=r.issued_on, indexed_at=now,
            terms=index_terms(
                [r.lab_id, lab and lab.name_en, lab and lab.name_zh, product.manufacturer_id,
                 maker and maker.name_en, maker and maker.name_zh, declared.get("trademark"),
                 " ".join(sorted({scheme for scheme, _n in certificates}))],
                [r.report_number, product.model, *variants, *cited, *sorted({n for _s, n in certificates})],
            ),
        ))
        standards.extend(dict(report_id=r.id, standard_id=s) for s in cited)
    return documents, standards


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


def on_evidence_changed(session: Session, product_id: int) -> None:
    """Listener for report writes: the product's search rows follow its reports in the same transaction."""
    refresh_products(session, [product_id])


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
    total: int
    report_ids: list[int]
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    products: list[tuple[int, int]] = field(default_factory=list)
    product_total: int = 0


_fts = table("search_fts", column("rowid"))


def _match_condition(session: Session, tokens: Sequence[str]):
    """The WHERE clause that asks the engine's text index for reports matching every token."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        matched = select(_fts.c.rowid).where(text("search_fts MATCH :fts_query").bindparams(
            fts_query=fts5_query(tokens)))
        return SearchDocument.report_id.in_(matched)
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
    query = select(SearchDocument.report_id, SearchDocument.product_id, SearchDocument.lab_id,
                   SearchDocument.status, SearchDocument.revision)
    if tokens:
        query = query.where(_match_condition(session, tokens))
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


def run_search(session: Session, tokens: Sequence[str], filters: SearchFilters, offset: int, limit: int,
               facet_limit: int = 12) -> SearchResult:
    """Count, facet and page the matching reports (newest first) in two round trips."""
    matched = _filtered(session, tokens, filters).cte("matched").prefix_with("MATERIALIZED")
    key = lambda c: cast(c, String)  # noqa: E731  (one text column across the UNION)
    lab = select(literal("lab"), key(matched.c.lab_id), func.count()).group_by(matched.c.lab_id)
    status = select(literal("status"), key(matched.c.status), func.count()).group_by(matched.c.status)
    revised = select(literal("revised"), literal(""), func.count()).where(matched.c.revision > 1)
    standards = (select(literal("standard"), key(SearchStandard.standard_id), func.count())
                 .join(matched, matched.c.report_id == SearchStandard.report_id)
                 .group_by(SearchStandard.standard_id))
    markets = (select(literal("market"), key(Decision.market), func.count())
               .join(matched, matched.c.product_id == Decision.product_id)
               .where(Decision.verdict.in_(ACCESSIBLE)).group_by(Decision.market))
    products = (select(matched.c.product_id.label("product_id"), func.count().label("n"))
                .group_by(matched.c.product_id).order_by(func.count().desc(), matched.c.product_id)
                .limit(facet_limit).subquery())
    top_products = select(literal("product"), key(products.c.product_id), products.c.n)
    product_total = select(literal("products"), literal(""), func.count(func.distinct(matched.c.product_id)))
    rows = session.execute(union_all(lab, status, revised, standards, markets, top_products, product_total)).all()

    facets: dict[str, list[tuple[str, int]]] = {"lab": [], "status": [], "standard": [], "market": []}
    result = SearchResult(total=0, report_ids=[])
    for kind, value, count in rows:
        if kind in ("lab", "standard", "market"):
            facets[kind].append((value, count))
        elif kind == "status":
            facets["status"].append((value, count))
            result.total += count
        elif kind == "revised" and count:
            facets["status"].append(("revised", count))
        elif kind == "product":
            result.products.append((int(value), count))
        elif kind == "products":
            result.product_total = count
    for kind in ("lab", "standard", "market"):
        facets[kind].sort(key=lambda kv: (-kv[1], kv[0]))
        facets[kind] = facets[kind][:facet_limit if kind != "market" else None]
    facets["status"].sort(key=lambda kv: ("valid", "revised", "withdrawn").index(kv[0])
                          if kv[0] in ("valid", "revised", "withdrawn") else 9)
    result.facets = facets
    if result.total:
        page = _filtered(session, tokens, filters).order_by(SearchDocument.report_id.desc()).offset(offset).limit(limit)
        result.report_ids = [row.report_id for row in session.execute(page)]
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
    """When the searchable data last changed (for the "data as of" line)."""
    return session.scalar(select(func.max(SearchDocument.indexed_at)))


def today() -> date:
    return date.today()
