/* commands.h: the table of `semsearch` commands (an X-macro list).
 * CMD(name, function, one-line summary) */
CMD("tokenize", cmd_tokenize, "split lines into token ids or pieces")
CMD("tokenizer", cmd_tokenizer, "tokenizer tools: `tokenizer train` builds a SentencePiece model")
