/* version.h: the one version both binaries print (--version) and pregond
 * reports in /healthz and pregon_info. */
#ifndef PREGON_VERSION_H
#define PREGON_VERSION_H

#define PREGON_VERSION "0.1.0"

#endif
