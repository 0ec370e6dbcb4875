/* commands.h: the table of `semsearch` commands (an X-macro list).
 * CMD(name, function, one-line summary) */
CMD("tokenize", cmd_tokenize, "split lines into token ids or pieces")
CMD("tokenizer", cmd_tokenizer, "tokenizer tools: `tokenizer train` builds a SentencePiece model")
CMD("embed", cmd_embed, "one vector per input line (tsv, jsonl, npy or f32)")
CMD("model", cmd_model, "model files: `model init` makes a random one, `model info` describes one")
CMD("eval", cmd_eval, "evaluate a model (and a TF-IDF baseline) on STS, paraphrase and retrieval data")
CMD("train", cmd_train, "train an encoder contrastively on paraphrases, documents, triplets or plain text")
CMD("mine", cmd_mine, "hard negatives for training: near misses by the model, written as triplets")
CMD("index", cmd_index, "add lines (or TSV/JSONL documents) to a database with their vectors")
CMD("query", cmd_query, "the documents nearest to a text (or to each stdin line)")
CMD("info", cmd_info, "describe a database: documents, model, sizes")
CMD("delete", cmd_delete, "delete documents from a database by id or source")
CMD("serve", cmd_serve, "serve embeddings (OpenAI API) and search over HTTP, batching concurrent requests")
