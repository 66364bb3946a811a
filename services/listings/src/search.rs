//! Full-text search over published results and open demands: a tantivy index kept in memory, fed from the log by the
//! service's projection (so it is rebuilt from scratch by folding the log again), with Chinese segmentation by jieba.
//!
//! Each text is indexed twice: as jieba words (search mode, so 锂离子电池 also yields 离子 and 电池) and as single
//! characters. A query word matches a document when the word itself is there, or when all of its characters are: a
//! query for 锂电池 finds 锂离子电池, ranked below a title that says 锂电池 outright. Words and characters in titles
//! weigh more than in the body.
//!
//! Facets are counted over every match with the filters applied, from fast fields. Visibility is a filter too: a
//! document is searchable by whoever may see it, and by nobody else.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use jieba_rs::Jieba;
use tantivy::collector::{Collector, Count, SegmentCollector, TopDocs};
use tantivy::columnar::Column;
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, NumericOptions, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use tantivy::{DocAddress, Term};
use tantivy::{DocId, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Score, SegmentReader, TantivyDocument};

/// The segmenter, loaded once (its dictionary takes a moment).
fn jieba() -> &'static Jieba {
    static JIEBA: OnceLock<Jieba> = OnceLock::new();
    JIEBA.get_or_init(Jieba::new)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Jieba's words in search mode, lowercased, without punctuation and spaces: (word, byte range).
pub fn words(text: &str) -> Vec<(String, usize, usize)> {
    jieba()
        .cut_for_search(text, true)
        .into_iter()
        .filter(|t| t.word.chars().any(is_word_char))
        .map(|t| (t.word.to_lowercase(), t.byte_start, t.byte_end))
        .collect()
}

/// The words of a query: jieba's plain cut (a query says what it means; search mode would split it), deduplicated.
pub fn query_words(q: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in jieba().cut(q, true) {
        let w = t.word.trim().to_lowercase();
        if w.chars().any(is_word_char) && !out.contains(&w) {
            out.push(w);
        }
    }
    out.truncate(16);
    out
}

/// Single characters for Chinese (and other non-ASCII letters), lowercased runs for ASCII letters and digits.
pub fn chars(text: &str) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let mut run: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if c.is_ascii_alphanumeric() {
            run.get_or_insert(i);
            continue;
        }
        if let Some(start) = run.take() {
            out.push((text[start..i].to_ascii_lowercase(), start, i));
        }
        if is_word_char(c) {
            out.push((c.to_lowercase().collect(), i, i + c.len_utf8()));
        }
    }
    if let Some(start) = run {
        out.push((text[start..].to_ascii_lowercase(), start, text.len()));
    }
    out
}

/// A tantivy tokenizer over one of the functions above.
#[derive(Clone)]
struct Segmenter(fn(&str) -> Vec<(String, usize, usize)>);

struct Tokens {
    tokens: Vec<Token>,
    at: usize,
}

impl TokenStream for Tokens {
    fn advance(&mut self) -> bool {
        self.at += 1;
        self.at <= self.tokens.len()
    }
    fn token(&self) -> &Token {
        &self.tokens[self.at - 1]
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.at - 1]
    }
}

impl Tokenizer for Segmenter {
    type TokenStream<'a> = Tokens;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> Tokens {
        let tokens = (self.0)(text)
            .into_iter()
            .enumerate()
            .map(|(position, (text, from, to))| Token {
                offset_from: from,
                offset_to: to,
                position,
                text,
                position_length: 1,
            })
            .collect();
        Tokens { tokens, at: 0 }
    }
}

/// What is searchable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Result,
    Demand,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Result => "result",
            Kind::Demand => "demand",
        }
    }
    fn code(self) -> u64 {
        match self {
            Kind::Result => 1,
            Kind::Demand => 2,
        }
    }
}

/// Who may find a document, besides administrators and regulators (who find everything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Anyone, logged in or not.
    Everyone = 1,
    /// Any logged-in user.
    Members = 2,
    /// Only the owning organisation.
    Owner = 3,
}

/// One searchable document, as the projection derives it from a result or a demand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDoc {
    pub kind: Kind,
    pub id: String,
    pub org_id: String,
    pub title: String,
    /// Summary (or problem), keywords, innovations, indicators, industry.
    pub body: String,
    /// The text a hit's snippet is cut from.
    pub lead: String,
    /// The wire value of the field (`TechField`).
    pub field: i32,
    /// A result's TRL, or the TRL a demand wants.
    pub trl: u8,
    /// A result's asking price (None: 面议), or a demand's budget.
    pub price_fen: Option<i64>,
    pub region: String,
    /// The wire value of the pricing route (0 for a demand).
    pub route: i32,
    /// Wire values of the transaction modes.
    pub modes: Vec<i32>,
    pub audience: Audience,
    /// Log position of the event that made it searchable: "newest" sorts on it.
    pub since: u64,
}

impl IndexDoc {
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind.name(), self.id)
    }
}

/// The asker, as far as search is concerned.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    pub logged_in: bool,
    pub org_id: String,
    /// Administrators and regulators.
    pub sees_all: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Relevance,
    Newest,
    PriceAsc,
    PriceDesc,
}

impl Sort {
    pub fn parse(s: &str) -> Option<Sort> {
        Some(match s {
            "" | "relevance" => Sort::Relevance,
            "newest" => Sort::Newest,
            "price_asc" => Sort::PriceAsc,
            "price_desc" => Sort::PriceDesc,
            _ => return None,
        })
    }
}

/// A search request, checked.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub q: String,
    pub kind: Option<Kind>,
    pub field: Option<i32>,
    pub trl_min: Option<u8>,
    pub trl_max: Option<u8>,
    pub mode: Option<i32>,
    pub price_min_fen: Option<i64>,
    pub price_max_fen: Option<i64>,
    pub region: Option<String>,
    pub route: Option<i32>,
    pub sort: Sort,
    pub offset: usize,
    pub limit: usize,
}

/// Price bands for the price facet, in fen: (label, from, to exclusive). 面议 is a band of its own.
pub const PRICE_BANDS: &[(&str, i64, i64)] = &[
    ("<10万", 0, 10_000_000),
    ("10万–50万", 10_000_000, 50_000_000),
    ("50万–100万", 50_000_000, 100_000_000),
    ("100万–500万", 100_000_000, 500_000_000),
    ("500万–1000万", 500_000_000, 1_000_000_000),
    ("≥1000万", 1_000_000_000, i64::MAX),
];
pub const NEGOTIABLE_BAND: &str = "面议";

/// A run of text, marked when it matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub hit: bool,
}

#[derive(Debug, Clone)]
pub struct Hit {
    pub doc: Arc<IndexDoc>,
    pub score: f32,
    pub title: Vec<Span>,
    pub snippet: Vec<Span>,
}

/// Facet counts: per name, (code, label, count) in a stable order.
pub type Facets = BTreeMap<&'static str, Vec<(i32, String, u64)>>;

#[derive(Debug, Clone)]
pub struct Found {
    pub total: u64,
    pub hits: Vec<Hit>,
    pub facets: Facets,
}

#[derive(Debug, thiserror::Error)]
#[error("search index: {0}")]
pub struct SearchError(#[from] tantivy::TantivyError);

#[derive(Debug, Clone, Copy)]
struct Fields {
    seq: Field,
    kind: Field,
    org: Field,
    title_words: Field,
    body_words: Field,
    title_chars: Field,
    body_chars: Field,
    field: Field,
    trl: Field,
    price: Field,
    region: Field,
    route: Field,
    modes: Field,
    audience: Field,
    since: Field,
}

/// The documents the index holds, by key and by the sequence number tantivy knows them by.
#[derive(Debug, Default)]
struct Docs {
    by_key: HashMap<String, (u64, Arc<IndexDoc>)>,
    by_seq: HashMap<u64, Arc<IndexDoc>>,
    next_seq: u64,
    regions: BTreeMap<String, u64>,
    region_names: HashMap<u64, String>,
}

impl Docs {
    fn region_code(&mut self, region: &str) -> u64 {
        if let Some(c) = self.regions.get(region) {
            return *c;
        }
        let code = self.regions.len() as u64 + 1;
        self.regions.insert(region.to_owned(), code);
        self.region_names.insert(code, region.to_owned());
        code
    }
}

/// The search index.
pub struct SearchIndex {
    fields: Fields,
    writer: Mutex<IndexWriter<TantivyDocument>>,
    reader: IndexReader,
    docs: RwLock<Docs>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SearchIndex {
    /// An empty index in memory.
    pub fn new() -> Result<Self, SearchError> {
        let mut b = Schema::builder();
        let text = |tokenizer: &str| {
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default().set_tokenizer(tokenizer).set_index_option(IndexRecordOption::WithFreqs),
            )
        };
        let num = || NumericOptions::from(INDEXED) | FAST;
        let fields = Fields {
            seq: b.add_u64_field("seq", num()),
            kind: b.add_u64_field("kind", num()),
            org: b.add_text_field("org", STRING),
            title_words: b.add_text_field("title_words", text("zh_words")),
            body_words: b.add_text_field("body_words", text("zh_words")),
            title_chars: b.add_text_field("title_chars", text("zh_chars")),
            body_chars: b.add_text_field("body_chars", text("zh_chars")),
            field: b.add_u64_field("field", num()),
            trl: b.add_u64_field("trl", num()),
            price: b.add_i64_field("price", num()),
            region: b.add_u64_field("region", num()),
            route: b.add_u64_field("route", num()),
            modes: b.add_u64_field("modes", num()),
            audience: b.add_u64_field("audience", num()),
            since: b.add_u64_field("since", num()),
        };
        let index = Index::create_in_ram(b.build());
        index.tokenizers().register("zh_words", Segmenter(words));
        index.tokenizers().register("zh_chars", Segmenter(chars));
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(2));
        let writer = index.writer_with_num_threads(threads, 64_000_000 * threads)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(Self { fields, writer: Mutex::new(writer), reader, docs: RwLock::default() })
    }

    /// How many documents are searchable.
    pub fn len(&self) -> usize {
        self.docs.read().unwrap_or_else(std::sync::PoisonError::into_inner).by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every searchable document, by key: what a rebuilt index is compared on.
    pub fn documents(&self) -> BTreeMap<String, IndexDoc> {
        let docs = self.docs.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        docs.by_key.iter().map(|(k, (_, d))| (k.clone(), (**d).clone())).collect()
    }

    /// Replaces, adds or removes documents (`None` removes the key), then makes the change searchable.
    pub fn apply(&self, changes: Vec<(String, Option<IndexDoc>)>) -> Result<(), SearchError> {
        if changes.is_empty() {
            return Ok(());
        }
        let f = self.fields;
        let mut writer = lock(&self.writer);
        let mut docs = self.docs.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut added = Vec::new();
        for (key, doc) in changes {
            if let Some((seq, old)) = docs.by_key.get(&key).cloned() {
                if doc.as_ref() == Some(&*old) {
                    continue;
                }
                writer.delete_term(Term::from_field_u64(f.seq, seq));
                docs.by_key.remove(&key);
                docs.by_seq.remove(&seq);
            }
            let Some(doc) = doc else { continue };
            docs.next_seq += 1;
            let seq = docs.next_seq;
            let region = docs.region_code(&doc.region);
            let mut d = TantivyDocument::default();
            d.add_u64(f.seq, seq);
            d.add_u64(f.kind, doc.kind.code());
            d.add_text(f.org, &doc.org_id);
            d.add_text(f.title_words, &doc.title);
            d.add_text(f.title_chars, &doc.title);
            d.add_text(f.body_words, &doc.body);
            d.add_text(f.body_chars, &doc.body);
            d.add_u64(f.field, doc.field as u64);
            d.add_u64(f.trl, u64::from(doc.trl));
            if let Some(p) = doc.price_fen {
                d.add_i64(f.price, p);
            }
            d.add_u64(f.region, region);
            d.add_u64(f.route, doc.route as u64);
            for m in &doc.modes {
                d.add_u64(f.modes, *m as u64);
            }
            d.add_u64(f.audience, doc.audience as u64);
            d.add_u64(f.since, doc.since);
            added.push(d);
            let doc = Arc::new(doc);
            docs.by_key.insert(key, (seq, doc.clone()));
            docs.by_seq.insert(seq, doc);
        }
        for d in added {
            writer.add_document(d)?;
        }
        writer.commit()?;
        drop(docs);
        self.reader.reload()?;
        Ok(())
    }

    fn term_u64(&self, field: Field, v: u64) -> Box<dyn Query> {
        Box::new(TermQuery::new(Term::from_field_u64(field, v), IndexRecordOption::Basic))
    }

    /// The clause one query word adds: the word in the title or body, or all its characters in the title or body.
    fn word_clause(&self, word: &str) -> Box<dyn Query> {
        let f = self.fields;
        let term = |field: Field, w: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(Term::from_field_text(field, w), IndexRecordOption::WithFreqs))
        };
        let all_chars = |field: Field| -> Box<dyn Query> {
            let cs = chars(word);
            Box::new(BooleanQuery::new(cs.iter().map(|(c, _, _)| (Occur::Must, term(field, c))).collect()))
        };
        Box::new(BooleanQuery::new(vec![
            (Occur::Should, Box::new(BoostQuery::new(term(f.title_words, word), 3.0))),
            (Occur::Should, term(f.body_words, word)),
            (Occur::Should, Box::new(BoostQuery::new(all_chars(f.title_chars), 1.5))),
            (Occur::Should, Box::new(BoostQuery::new(all_chars(f.body_chars), 0.4))),
        ]))
    }

    fn visibility(&self, viewer: &Viewer) -> Option<Box<dyn Query>> {
        if viewer.sees_all {
            return None;
        }
        let f = self.fields;
        let mut may: Vec<(Occur, Box<dyn Query>)> =
            vec![(Occur::Should, self.term_u64(f.audience, Audience::Everyone as u64))];
        if viewer.logged_in {
            may.push((Occur::Should, self.term_u64(f.audience, Audience::Members as u64)));
        }
        if !viewer.org_id.is_empty() {
            may.push((
                Occur::Should,
                Box::new(TermQuery::new(Term::from_field_text(f.org, &viewer.org_id), IndexRecordOption::Basic)),
            ));
        }
        Some(Box::new(BooleanQuery::new(may)))
    }

    fn filters(&self, r: &Request, viewer: &Viewer) -> Vec<(Occur, Box<dyn Query>)> {
        let f = self.fields;
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if let Some(v) = self.visibility(viewer) {
            must.push((Occur::Must, v));
        }
        if let Some(k) = r.kind {
            must.push((Occur::Must, self.term_u64(f.kind, k.code())));
        }
        if let Some(v) = r.field {
            must.push((Occur::Must, self.term_u64(f.field, v as u64)));
        }
        if let Some(v) = r.mode {
            must.push((Occur::Must, self.term_u64(f.modes, v as u64)));
        }
        if let Some(v) = r.route {
            must.push((Occur::Must, self.term_u64(f.route, v as u64)));
        }
        if let Some(region) = &r.region {
            let code = self.docs.read().unwrap_or_else(std::sync::PoisonError::into_inner).regions.get(region).copied();
            // An unknown region matches nothing.
            must.push((Occur::Must, self.term_u64(f.region, code.unwrap_or(u64::MAX))));
        }
        if r.trl_min.is_some() || r.trl_max.is_some() {
            let lo = Term::from_field_u64(f.trl, u64::from(r.trl_min.unwrap_or(1)));
            let hi = Term::from_field_u64(f.trl, u64::from(r.trl_max.unwrap_or(9)));
            must.push((Occur::Must, Box::new(RangeQuery::new(Bound::Included(lo), Bound::Included(hi)))));
        }
        if r.price_min_fen.is_some() || r.price_max_fen.is_some() {
            let lo = Term::from_field_i64(f.price, r.price_min_fen.unwrap_or(0));
            let hi = Term::from_field_i64(f.price, r.price_max_fen.unwrap_or(i64::MAX));
            must.push((Occur::Must, Box::new(RangeQuery::new(Bound::Included(lo), Bound::Included(hi)))));
        }
        must
    }

    /// Runs a search for `viewer`.
    pub fn search(&self, r: &Request, viewer: &Viewer) -> Result<Found, SearchError> {
        let words = query_words(&r.q);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> =
            words.iter().map(|w| (Occur::Must, self.word_clause(w))).collect();
        let text_query = !clauses.is_empty();
        clauses.extend(self.filters(r, viewer));
        if !text_query {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let limit = r.limit.clamp(1, 100);
        let top = TopDocs::with_limit(limit).and_offset(r.offset);
        let facets = FacetCollector;
        let (addresses, (total, counts)): (Vec<(f32, DocAddress)>, _) = match r.sort {
            Sort::Relevance if text_query => {
                let (t, rest) = searcher.search(&query, &(top.order_by_score(), (Count, facets)))?;
                (t, rest)
            }
            Sort::Relevance | Sort::Newest => {
                let (t, rest) = searcher
                    .search(&query, &(top.order_by_fast_field::<u64>("since", Order::Desc), (Count, facets)))?;
                (t.into_iter().map(|(_, a)| (0.0, a)).collect(), rest)
            }
            Sort::PriceAsc | Sort::PriceDesc => {
                let order = if r.sort == Sort::PriceAsc { Order::Asc } else { Order::Desc };
                let (t, rest) =
                    searcher.search(&query, &(top.order_by_fast_field::<i64>("price", order), (Count, facets)))?;
                (t.into_iter().map(|(_, a)| (0.0, a)).collect(), rest)
            }
        };
        let docs = self.docs.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut hits = Vec::with_capacity(addresses.len());
        for (score, address) in addresses {
            let seq = searcher.segment_reader(address.segment_ord).fast_fields().u64("seq")?.first(address.doc_id);
            let Some(doc) = seq.and_then(|s| docs.by_seq.get(&s)) else { continue };
            hits.push(Hit {
                title: highlight(&doc.title, &words),
                snippet: snippet(&doc.lead, &words, 90),
                doc: doc.clone(),
                score,
            });
        }
        Ok(Found { total: total as u64, hits, facets: counts.named(&docs.region_names) })
    }

    /// The documents of `kind` an outsider may see that share words with `text`, best first by BM25, with the
    /// query words each of them contains; for matching.
    pub fn candidates(&self, text: &str, kind: Kind, limit: usize) -> Result<Candidates, SearchError> {
        let f = self.fields;
        let searcher = self.reader.searcher();
        let kind_filter = self.term_u64(f.kind, kind.code());
        let total = searcher.search(&kind_filter, &Count)?.max(1) as f32;
        // The text's distinct words with their rarity among documents of `kind`; the rarest twelve found there make
        // the query.
        let mut terms: Vec<(String, f32)> = Vec::new();
        for (w, _, _) in words(text) {
            if w.chars().count() < 2 || terms.iter().any(|(t, _)| *t == w) {
                continue;
            }
            let has_word = BooleanQuery::new(vec![
                (Occur::Must, self.term_u64(f.kind, kind.code())),
                (
                    Occur::Must,
                    Box::new(BooleanQuery::new(vec![
                        (
                            Occur::Should,
                            Box::new(TermQuery::new(Term::from_field_text(f.title_words, &w), IndexRecordOption::Basic))
                                as Box<dyn Query>,
                        ),
                        (
                            Occur::Should,
                            Box::new(TermQuery::new(Term::from_field_text(f.body_words, &w), IndexRecordOption::Basic)),
                        ),
                    ])),
                ),
            ]);
            let df = searcher.search(&has_word, &Count)?;
            if df == 0 {
                continue;
            }
            let idf = (1.0 + (total - df as f32 + 0.5) / (df as f32 + 0.5)).ln();
            terms.push((w, idf));
        }
        terms.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        terms.truncate(12);
        if terms.is_empty() {
            return Ok((Vec::new(), terms));
        }
        let text_query: Vec<(Occur, Box<dyn Query>)> = terms
            .iter()
            .flat_map(|(w, _)| {
                let title: Box<dyn Query> = Box::new(BoostQuery::new(
                    Box::new(TermQuery::new(Term::from_field_text(f.title_words, w), IndexRecordOption::WithFreqs)),
                    2.0,
                ));
                let body: Box<dyn Query> =
                    Box::new(TermQuery::new(Term::from_field_text(f.body_words, w), IndexRecordOption::WithFreqs));
                [(Occur::Should, title), (Occur::Should, body)]
            })
            .collect();
        let query = BooleanQuery::new(vec![
            (Occur::Must, Box::new(BooleanQuery::new(text_query))),
            (Occur::Must, self.term_u64(f.kind, kind.code())),
            (Occur::Must, self.visibility(&Viewer { logged_in: true, ..Viewer::default() }).expect("outsider")),
        ]);
        let top = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score())?;
        let docs = self.docs.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = Vec::new();
        for (score, address) in top {
            let seq = searcher.segment_reader(address.segment_ord).fast_fields().u64("seq")?.first(address.doc_id);
            if let Some(doc) = seq.and_then(|s| docs.by_seq.get(&s)) {
                out.push((doc.clone(), score));
            }
        }
        Ok((out, terms))
    }
}

/// Documents to score with their BM25 score, and the weighted words that found them.
pub type Candidates = (Vec<(Arc<IndexDoc>, f32)>, Vec<(String, f32)>);

/// Counts facets over every match.
struct FacetCollector;

#[derive(Debug, Default, Clone)]
struct Counts {
    kind: [u64; 3],
    field: [u64; 16],
    trl: [u64; 10],
    mode: [u64; 16],
    route: [u64; 8],
    price: [u64; PRICE_BANDS.len() + 1],
    region: HashMap<u64, u64>,
}

fn add<const N: usize>(a: &mut [u64; N], b: &[u64; N]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

impl Counts {
    fn merge(&mut self, o: Counts) {
        add(&mut self.kind, &o.kind);
        add(&mut self.field, &o.field);
        add(&mut self.trl, &o.trl);
        add(&mut self.mode, &o.mode);
        add(&mut self.route, &o.route);
        add(&mut self.price, &o.price);
        for (k, v) in o.region {
            *self.region.entry(k).or_default() += v;
        }
    }

    fn named(&self, regions: &HashMap<u64, String>) -> Facets {
        let list = |a: &[u64], skip_zero_code: bool| -> Vec<(i32, String, u64)> {
            a.iter()
                .enumerate()
                .filter(|(i, n)| **n > 0 && !(skip_zero_code && *i == 0))
                .map(|(i, n)| (i as i32, String::new(), *n))
                .collect()
        };
        let mut f = Facets::new();
        f.insert(
            "kind",
            [Kind::Result, Kind::Demand]
                .iter()
                .filter(|k| self.kind[k.code() as usize] > 0)
                .map(|k| (k.code() as i32, k.name().to_owned(), self.kind[k.code() as usize]))
                .collect(),
        );
        f.insert("field", list(&self.field, true));
        f.insert("trl", list(&self.trl, true));
        f.insert("mode", list(&self.mode, true));
        f.insert("route", list(&self.route, true));
        let mut price: Vec<(i32, String, u64)> = PRICE_BANDS
            .iter()
            .enumerate()
            .filter(|(i, _)| self.price[*i] > 0)
            .map(|(i, (label, _, _))| (i as i32, (*label).to_owned(), self.price[i]))
            .collect();
        if self.price[PRICE_BANDS.len()] > 0 {
            price.push((PRICE_BANDS.len() as i32, NEGOTIABLE_BAND.to_owned(), self.price[PRICE_BANDS.len()]));
        }
        f.insert("price", price);
        let mut region: Vec<(i32, String, u64)> = self
            .region
            .iter()
            .map(|(code, n)| (0, regions.get(code).cloned().unwrap_or_default(), *n))
            .filter(|(_, name, _)| !name.is_empty())
            .collect();
        region.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
        f.insert("region", region);
        f
    }
}

struct FacetSegment {
    kind: Column<u64>,
    field: Column<u64>,
    trl: Column<u64>,
    mode: Column<u64>,
    route: Column<u64>,
    price: Column<i64>,
    region: Column<u64>,
    counts: Counts,
}

fn bump(a: &mut [u64], at: Option<u64>) {
    if let Some(slot) = at.and_then(|v| usize::try_from(v).ok()).and_then(|i| a.get_mut(i)) {
        *slot += 1;
    }
}

impl SegmentCollector for FacetSegment {
    type Fruit = Counts;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let c = &mut self.counts;
        bump(&mut c.kind, self.kind.first(doc));
        bump(&mut c.field, self.field.first(doc));
        bump(&mut c.trl, self.trl.first(doc));
        bump(&mut c.route, self.route.first(doc));
        for m in self.mode.values_for_doc(doc) {
            bump(&mut c.mode, Some(m));
        }
        let band = match self.price.first(doc) {
            Some(p) => PRICE_BANDS.iter().position(|(_, lo, hi)| p >= *lo && p < *hi).unwrap_or(0),
            None => PRICE_BANDS.len(),
        };
        c.price[band] += 1;
        if let Some(r) = self.region.first(doc) {
            *c.region.entry(r).or_default() += 1;
        }
    }

    fn harvest(self) -> Counts {
        self.counts
    }
}

impl Collector for FacetCollector {
    type Fruit = Counts;
    type Child = FacetSegment;

    fn for_segment(&self, _ord: u32, segment: &SegmentReader) -> tantivy::Result<FacetSegment> {
        let ff = segment.fast_fields();
        Ok(FacetSegment {
            kind: ff.u64("kind")?,
            field: ff.u64("field")?,
            trl: ff.u64("trl")?,
            mode: ff.u64("modes")?,
            route: ff.u64("route")?,
            price: ff.i64("price")?,
            region: ff.u64("region")?,
            counts: Counts::default(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Counts>) -> tantivy::Result<Counts> {
        let mut all = Counts::default();
        for f in fruits {
            all.merge(f);
        }
        Ok(all)
    }
}

/// Marks the query's words in `text`; a word that is not there as a whole is marked by its characters.
pub fn highlight(text: &str, words: &[String]) -> Vec<Span> {
    let chars: Vec<char> = text.chars().collect();
    let lower: Vec<char> = chars.iter().map(|c| c.to_lowercase().next().unwrap_or(*c)).collect();
    let mut marked = vec![false; chars.len()];
    for w in words {
        let w: Vec<char> = w.chars().collect();
        if w.is_empty() {
            continue;
        }
        let mut found = false;
        let mut i = 0;
        while i + w.len() <= lower.len() {
            if lower[i..i + w.len()] == w[..] {
                marked[i..i + w.len()].iter_mut().for_each(|m| *m = true);
                found = true;
                i += w.len();
            } else {
                i += 1;
            }
        }
        if !found && w.iter().all(|c| !c.is_ascii()) {
            for (i, c) in lower.iter().enumerate() {
                if w.contains(c) {
                    marked[i] = true;
                }
            }
        }
    }
    let mut spans: Vec<Span> = Vec::new();
    for (c, hit) in chars.into_iter().zip(marked) {
        match spans.last_mut() {
            Some(s) if s.hit == hit => s.text.push(c),
            _ => spans.push(Span { text: c.to_string(), hit }),
        }
    }
    spans
}

/// About `width` characters of `text` around its first match, highlighted, with ellipses where it was cut.
pub fn snippet(text: &str, words: &[String], width: usize) -> Vec<Span> {
    let spans = highlight(text, words);
    let first_hit: usize = spans.iter().take_while(|s| !s.hit).map(|s| s.text.chars().count()).sum::<usize>();
    let total = text.chars().count();
    let start = if first_hit >= total { 0 } else { first_hit.saturating_sub(width / 4) };
    let end = (start + width).min(total);
    let mut out = Vec::new();
    if start > 0 {
        out.push(Span { text: "…".into(), hit: false });
    }
    let mut at = 0;
    for s in spans {
        let n = s.text.chars().count();
        let (from, to) = (at.max(start), (at + n).min(end));
        if from < to {
            let piece: String = s.text.chars().skip(from - at).take(to - from).collect();
            match out.last_mut() {
                Some(last) if last.hit == s.hit && last.text != "…" => last.text.push_str(&piece),
                _ => out.push(Span { text: piece, hit: s.hit }),
            }
        }
        at += n;
    }
    if end < total {
        out.push(Span { text: "…".into(), hit: false });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, title: &str, body: &str, field: i32, trl: u8, price: Option<i64>, since: u64) -> IndexDoc {
        IndexDoc {
            kind: Kind::Result,
            id: id.into(),
            org_id: "org-a".into(),
            title: title.into(),
            body: body.into(),
            lead: body.into(),
            field,
            trl,
            price_fen: price,
            region: "上海市".into(),
            route: 1,
            modes: vec![1, 4],
            audience: Audience::Members,
            since,
        }
    }

    fn ids(found: &Found) -> Vec<&str> {
        found.hits.iter().map(|h| h.doc.id.as_str()).collect()
    }

    fn member() -> Viewer {
        Viewer { logged_in: true, org_id: "org-z".into(), sees_all: false }
    }

    fn q(text: &str) -> Request {
        Request { q: text.into(), limit: 20, ..Request::default() }
    }

    fn sample() -> SearchIndex {
        let index = SearchIndex::new().unwrap();
        index
            .apply(vec![
                (
                    "result:li".into(),
                    Some(doc(
                        "li",
                        "高镍锂离子电池正极材料制备技术",
                        "一种高能量密度的正极材料",
                        6,
                        5,
                        Some(300_000_000),
                        10,
                    )),
                ),
                (
                    "result:na".into(),
                    Some(doc("na", "钠离子电池层状氧化物正极", "低成本储能电池", 6, 4, Some(80_000_000), 11)),
                ),
                (
                    "result:gene".into(),
                    Some(doc("gene", "基因编辑水稻育种方法", "提高水稻产量的育种技术", 2, 6, None, 12)),
                ),
            ])
            .unwrap();
        index
    }

    #[test]
    fn a_query_for_lithium_batteries_finds_lithium_ion_batteries_first() {
        let index = sample();
        let found = index.search(&q("锂电池"), &member()).unwrap();
        assert_eq!(ids(&found), vec!["li"], "only the lithium result has 锂, 电 and 池");
        let title: String =
            found.hits[0].title.iter().filter(|s| s.hit).map(|s| s.text.as_str()).collect::<Vec<_>>().join("|");
        assert_eq!(title, "锂|电池");
        let batteries = index.search(&q("电池"), &member()).unwrap();
        assert_eq!(batteries.total, 2);
    }

    #[test]
    fn facets_count_every_match_and_filters_narrow_them() {
        let index = sample();
        let all = index.search(&q(""), &member()).unwrap();
        assert_eq!(all.total, 3);
        assert_eq!(all.facets["field"], vec![(2, String::new(), 1), (6, String::new(), 2)]);
        assert_eq!(
            all.facets["price"].iter().map(|(_, l, n)| (l.as_str(), *n)).collect::<Vec<_>>(),
            vec![("50万–100万", 1), ("100万–500万", 1), ("面议", 1)]
        );
        assert_eq!(all.facets["region"], vec![(0, "上海市".to_owned(), 3)]);
        let energy = index.search(&Request { field: Some(6), trl_min: Some(5), ..q("") }, &member()).unwrap();
        assert_eq!(ids(&energy), vec!["li"]);
        let cheap = index.search(&Request { price_max_fen: Some(100_000_000), ..q("") }, &member()).unwrap();
        assert_eq!(ids(&cheap), vec!["na"]);
        let by_price =
            index.search(&Request { sort: Sort::PriceDesc, kind: Some(Kind::Result), ..q("电池") }, &member());
        assert_eq!(ids(&by_price.unwrap()), vec!["li", "na"]);
        let newest = index.search(&Request { sort: Sort::Newest, ..q("") }, &member()).unwrap();
        assert_eq!(ids(&newest), vec!["gene", "na", "li"]);
    }

    #[test]
    fn a_removed_document_disappears_and_visibility_filters() {
        let index = sample();
        index.apply(vec![("result:na".into(), None)]).unwrap();
        assert_eq!(ids(&index.search(&q("电池"), &member()).unwrap()), vec!["li"]);
        let mut secret = doc("nda", "固态电池电解质", "保密", 6, 3, None, 13);
        secret.audience = Audience::Owner;
        index.apply(vec![("result:nda".into(), Some(secret))]).unwrap();
        assert_eq!(ids(&index.search(&q("固态电池"), &member()).unwrap()), Vec::<&str>::new());
        let owner = Viewer { logged_in: true, org_id: "org-a".into(), sees_all: false };
        assert_eq!(ids(&index.search(&q("固态电池"), &owner).unwrap()), vec!["nda"]);
        let anonymous = Viewer::default();
        assert_eq!(index.search(&q(""), &anonymous).unwrap().total, 0);
    }

    #[test]
    fn snippets_cut_around_the_first_match() {
        let words = query_words("电池");
        let text = format!("{}电池{}", "前".repeat(100), "后".repeat(100));
        let s = snippet(&text, &words, 40);
        assert_eq!(s.first().unwrap().text, "…");
        assert_eq!(s.last().unwrap().text, "…");
        assert!(s.iter().any(|p| p.hit && p.text == "电池"));
        assert_eq!(s.iter().map(|p| p.text.chars().count()).sum::<usize>(), 42);
    }
}
