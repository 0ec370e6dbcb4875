/* loss.h: the losses a run can train with, and the in-batch contrastive
 * losses over L2-normalized embeddings. */
#ifndef SS_LOSS_H
#define SS_LOSS_H

/* The losses by kind (the default step is InfoNCE, train_step.h; the others
 * are in loss_extra.h). cosent: a ranking loss on graded pairs; it needs a
 * training set whose examples carry scores (ss__load_opts.graded). */
enum { SS__LOSS_INFONCE = 0, SS__LOSS_NTXENT = 1, SS__LOSS_TRIPLET = 2, SS__LOSS_COSENT = 3 };

/* The name of a loss kind ("infonce", "ntxent", "triplet", "cosent"; "?"
 * for another value), and the kind of a name (-1 if unknown): the names of
 * the command line and of checkpoints. */
const char *ss__loss_name(int loss);
int ss__loss_kind(const char *name);

/* InfoNCE with in-batch negatives: logits = a b^T / temp (B,B), a[i] and b[i]
 * are positives. Loss = mean_i CE(row i, i), and when symmetric the average
 * of that and mean_j CE(column j, j). work (3,B,B) keeps what backward needs.
 * Returns the loss (NaN if an input is not finite). */
double ss__infonce_forward(float *work, const float *a, const float *b, int B, int C,
                           float temp, int symmetric);
/* da, db (B,C) = gradient of the loss of the last forward on the same work. */
void ss__infonce_backward(float *da, float *db, float *work, const float *a, const float *b,
                          int B, int C, float temp, int symmetric);

/* The same with hard negatives: b holds N >= B rows, b[0..B) the positives
 * of a[0..B), b[B..N) further negatives of every a. Rows are a -> b over all N
 * columns; the symmetric part b[j] -> a covers the first B columns only.
 * work (3,B,N); db is (N,C). */
double ss__infonce_neg_forward(float *work, const float *a, const float *b, int B, int N, int C, float temp,
                               int symmetric);
void ss__infonce_neg_backward(float *da, float *db, float *work, const float *a, const float *b, int B, int N,
                              int C, float temp, int symmetric);

#endif
