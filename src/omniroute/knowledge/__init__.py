"""The knowledge base: Markdown articles in PostgreSQL, searchable in Korean and English.

- :mod:`.tokens`: the pure tokenizer (Hangul syllable bigrams, stemmed Latin words);
- :mod:`.ranking`: the pure scorer (idf-weighted, field-boosted coverage in [0, 1]);
- :mod:`.articles`: the article model and its Markdown file format;
- :mod:`.store`: the PostgreSQL repository (versions, n-gram tsvector search);
- :mod:`.files`: ``omniroute kb import DIR`` / ``export DIR``;
- :mod:`.routes`: the admin, agent-suggestion and public search HTTP routes.
"""
