/* Internal to report/: the HTML/Markdown document writer. */
#ifndef BD_REPORT_DOC_H
#define BD_REPORT_DOC_H

#include "report.h"

/* md = 0: HTML with the SVG inline; md = 1: Markdown linking svg_rel. */
int bd_doc_write(FILE *f, const bd_report_data *d, int md, const char *svg_rel);

#endif
